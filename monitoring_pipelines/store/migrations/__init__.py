"""Alembic environment of the monitoring store (revisions under ``versions/``)."""
