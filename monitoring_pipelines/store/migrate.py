"""Bring a store's schema to the newest Alembic revision, safely from many processes at once.

The whole upgrade is one transaction holding the schema lock (``store.locks``): a second
process starting at the same moment waits, then finds the schema at head and does nothing.
A database made by release 0.1.0 (tables from ``metadata.create_all``, no revision recorded)
is stamped at ``0001_initial`` first, then upgraded; its rows stay.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from monitoring_pipelines.store.connection import create_store_engine, redacted
from monitoring_pipelines.store.locks import MIGRATIONS_LOCK, write_transaction

MIGRATIONS = Path(__file__).with_name("migrations")
# Not Alembic's default ``alembic_version``: dagster-postgres keeps its own revision there when
# Dagster's storage shares the database (the README's production set-up may do so).
VERSION_TABLE = "monitoring_alembic_version"
FIRST_REVISION = "0001_initial"
FIRST_RELEASE_TABLES = ("aggregates", "drift_scores", "model_performance", "alerts")


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an ini file: the packaged migrations, and the
    connection to run them on (``env.py`` falls back to the URL in the environment)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: not under Alembic yet)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(url: str) -> None:
    """Upgrade the store at ``url`` to head, on a dedicated connection, under the lock."""
    engine = create_store_engine(url, pooled=False)
    try:
        with write_transaction(engine, *MIGRATIONS_LOCK) as conn:
            config = alembic_config(conn)
            if current_revision(conn) is None and _first_release_schema(conn, url):
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def _first_release_schema(conn: Connection, url: str) -> bool:
    """Whether the tables of release 0.1.0 are there (stamp them); an error when only some."""
    present = set(inspect(conn).get_table_names())
    found = [table for table in FIRST_RELEASE_TABLES if table in present]
    if not found:
        return False
    missing = [table for table in FIRST_RELEASE_TABLES if table not in present]
    if missing:
        raise RuntimeError(
            f"the monitoring database {redacted(url)} has tables {', '.join(found)} but not "
            f"{', '.join(missing)} and no {VERSION_TABLE}: it was not made by this project's "
            "create_all; point MONITORING_DATABASE_URL at an empty database or schema"
        )
    return True
