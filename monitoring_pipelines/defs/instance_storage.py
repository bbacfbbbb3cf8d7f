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
reused, except for a batch of asset events (below). Run and schedule storage are
dagster-postgres' own (a run writes a few rows there).

A run's start hands the event log one batch of its planned events: one planned
materialization per asset and partition and its checks' planned evaluations.
dagster-postgres writes a batch that mixes those kinds one event at a time (an INSERT and a
``NOTIFY``, then a transaction for the asset's tags and row): 2,884 events and about 10
CPU-s at a checked month's start, before any step runs.
``store_event_batch`` here writes each run of consecutive asset events of one run with one
INSERT, one ``NOTIFY`` statement and one index transaction: the same rows in the same order
as one by one (each event its row, id and tags, each asset's ``asset_keys`` row ending as its
last event left it). Other events take dagster-postgres' own path.

A forked child drops the pool it inherited (a connection must not be shared across
processes) and opens its own.

Its configuration is dagster-postgres' (``postgres_db`` or ``postgres_url``), under
``storage: custom:`` with this module and class.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlalchemy.pool as db_pool
from dagster._core.storage.event_log.migration import ASSET_KEY_INDEX_COLS
from dagster._core.storage.event_log.schema import AssetKeyTable, SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.event_log.event_log import CHANNEL_NAME
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)
from sqlalchemy.dialects import postgresql

from monitoring_pipelines.defs.event_batches import asset_event_runs, latest_asset_values

if TYPE_CHECKING:
    from dagster._core.events.log import EventLogEntry
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

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """The batch's rows as ``store_event`` writes them one by one, in order (a failed
        materialization left out of a batch, as dagster-postgres does): each run of
        consecutive asset events of one run at once, any other event alone."""
        kept = [e for e in events if not e.get_dagster_event().is_asset_failed_to_materialize]
        for asset_events, same in asset_event_runs(kept):
            if asset_events and len(same) > 1:
                self._store_asset_events(same)
            else:
                for event in same:
                    self.store_event(event)

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        """Asset events of one run: one INSERT (ids in the rows' order), one ``NOTIFY``
        statement with ``store_event``'s payloads, one transaction for tags and assets."""
        statement = self.prepare_insert_event_batch(events).returning(SqlEventLogStorageTable.c.id)
        with self._connect() as conn:
            ids = sorted(int(row[0]) for row in conn.execute(statement))
            conn.execute(
                sa.text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) p"),
                {"channel": CHANNEL_NAME, "payloads": [f"{events[0].run_id}_{i}" for i in ids]},
            )
        has_index_columns = self.has_secondary_index(ASSET_KEY_INDEX_COLS)
        latest = latest_asset_values(self, events, ids, has_index_columns)
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, ids)
            for key, values in latest.items():
                insert = postgresql.insert(AssetKeyTable).values(asset_key=key, **values)
                conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=[AssetKeyTable.c.asset_key], set_=values
                    )
                    if values
                    else insert.on_conflict_do_nothing()
                )

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
