"""Dagster's PostgreSQL storage with the event log's connections pooled.

Configured in ``deploy/dagster.postgres.yaml``.

dagster-postgres 0.29 opens a new PostgreSQL connection for every statement group of the
event log outside the webserver (``NullPool``, "to prevent accumulating connections per
DagsterInstance"): storing one asset-check result in a run connects three times (the event
row and its ``NOTIFY``; ``has_table('asset_check_executions')``, asked again for every check
event; the update of ``asset_check_executions``). A range run of a month records 2,880 check
results, so about 8,600 connections, each a backend process the server forks and
authenticates: on a loaded 2-core machine that was most of a checked month's wall time
(README "Performance", part 11).

``PooledPostgresStorage`` is dagster-postgres' storage with one change to the event log: its
engine keeps a small pool (``POOL_SIZE`` idle connections, up to ``MAX_OVERFLOW`` more while
threads write at once, recycled after ``POOL_RECYCLE_SECONDS``, checked with a ping before
use so a restarted server costs a reconnect, not an error), and it remembers which of its
tables exist once it has seen them (dagster-postgres asks again for every event, once from
inside the event's own transaction, which took a second connection). Every event is still
written one by one in its own transactions, to the same tables: only connections are
reused. Run and schedule storage are dagster-postgres' own (a run writes a few rows
there). A forked child drops the pool it inherited (a connection must not be shared
across processes) and opens its own.

Its configuration is dagster-postgres' (``postgres_db`` or ``postgres_url``), under
``storage: custom:`` with this module and class.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

import sqlalchemy.pool as db_pool
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

if TYPE_CHECKING:
    from dagster_postgres.auth import PgTokenProvider

POOL_SIZE = 1
MAX_OVERFLOW = 4
POOL_RECYCLE_SECONDS = 600


def _storage_arguments(config_value: Any) -> dict[str, Any]:
    """The constructor arguments dagster-postgres reads from a ``postgres_db``/``postgres_url``
    config block (its ``from_config_value`` names the base class, so each subclass needs it)."""
    return {
        "postgres_url": pg_url_from_config(config_value),
        "should_autocreate_tables": config_value.get("should_autocreate_tables", True),
        "token_provider": get_token_provider_from_config(config_value),
    }


_POOLED: weakref.WeakSet[PooledPostgresEventLogStorage] = weakref.WeakSet()


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """``PostgresEventLogStorage`` on a pooled engine (see the module's docstring)."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: PgTokenProvider | None = None,
    ):
        self._tables: set[str] = set()
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine.dispose()
        self._engine = create_pg_engine(
            self.postgres_url,
            self._token_provider,
            isolation_level="AUTOCOMMIT",
            poolclass=db_pool.QueuePool,
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
            pool_recycle=POOL_RECYCLE_SECONDS,
            pool_pre_ping=True,
        )
        _POOLED.add(self)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledPostgresEventLogStorage:
        return cls(inst_data=inst_data, **_storage_arguments(config_value))

    def has_table(self, table_name: str) -> bool:
        """Asked before every check event and inside every asset event's transaction (where
        it needed a second connection): a table once there stays (Dagster's migrations add
        tables, never drop one), so a yes is remembered and a no is asked again."""
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PooledPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres' storage whose event log is ``PooledPostgresEventLogStorage``."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: PgTokenProvider | None = None,
    ):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._event_log_storage.dispose()
        self._event_log_storage = PooledPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledPostgresStorage:
        return cls(inst_data=inst_data, **_storage_arguments(config_value))

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return (
            ConfigurableClassData(
                __name__, PooledPostgresEventLogStorage.__name__, self.inst_data.config_yaml
            )
            if self.inst_data
            else None
        )


def _after_fork_in_child() -> None:
    """The parent's pooled connections stay the parent's: the child opens its own."""
    for storage in list(_POOLED):
        storage._engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
