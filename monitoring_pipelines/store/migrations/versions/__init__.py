"""Alembic revisions of the monitoring store, applied in order by ``store.migrate``."""
