"""Dagster's SQLite storage with a batch of asset events written in one transaction per file.

Configured in ``dagster.yaml`` (the development instance ``make demo`` and ``make dev`` use).

Dagster 1.13's SQLite event log writes every event alone: a new engine and connection for
the run's file, one commit, then the same again for the index file that mirrors asset
events (plus a schema query for every event). With ``DAGSTER_EVENT_BATCH_SIZE`` set,
Dagster hands the storage a batch (a step's materializations, one per partition of a range
run, and the run's materialization-planned events), but ``SqliteEventLogStorage`` still
stores it one event at a time: 2,880 events for a month of hours, each two commits.

``BatchedSqliteEventLogStorage.store_event_batch`` writes consecutive asset events of one
run with one transaction on the run's file and one on the index file: the same rows in the
same order as one by one (each event its own row and id, its indexed tags, the asset's
latest-event row ending as the last event left it), so every partition keeps its own
materialization and metadata. Other events of a batch (checks' planned evaluations), and
every single event, take Dagster's own path. Connections are still opened per write and
closed after it, as Dagster does (closing the last connection checkpoints the write-ahead
log into the run's file, which Dagster's file watcher for live run logs waits for).

Its configuration is Dagster's SQLite storage's (``base_dir``, the instance's home), under
``storage: custom:`` with this module and class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy.exc as db_exc
from dagster._core.storage.event_log.schema import AssetKeyTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData

from monitoring_pipelines.defs.event_batches import asset_event_runs, latest_asset_values

if TYPE_CHECKING:
    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.sqlite_storage import SqliteStorageConfig
    from sqlalchemy.engine import Connection


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` storing a batch of asset events in one transaction per file."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """The batch's rows as ``store_event`` would write them one by one, in order: each run
        of consecutive asset events of one run in two transactions, any other event alone (a
        run's planned events include its checks' planned evaluations)."""
        for asset_events, same in asset_event_runs(events):
            if asset_events and len(same) > 1:
                self._store_asset_events(same[0].run_id, same)
            else:
                for event in same:
                    self.store_event(event)

    def _store_asset_events(self, run_id: str, events: Sequence[EventLogEntry]) -> None:
        """Asset events of one run: one transaction on the run's file, one on the index."""
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            ids = [
                conn.execute(SqlEventLogStorageTable.insert().values(**row)).inserted_primary_key[0]
                for row in rows
            ]
            self._store_asset_event_tags(conn, events, ids)
            self._store_latest_asset_events(conn, events, ids)

    def _store_latest_asset_events(
        self, conn: Connection, events: Sequence[EventLogEntry], ids: Sequence[int]
    ) -> None:
        """Each asset's row in ``asset_keys`` as ``_store_asset_event`` leaves it after the
        batch's events in order: each event sets only its own columns, so the columns it sets
        win over earlier events', and one insert or update per asset writes the result."""
        has_index_columns = self._has_asset_key_index_cols_on_connection(conn)
        latest = latest_asset_values(self, events, ids, has_index_columns)
        for key, values in latest.items():
            if not values:  # as _store_asset_event: no row for an event that sets nothing
                continue
            try:
                conn.execute(AssetKeyTable.insert().values(asset_key=key, **values))
            except db_exc.IntegrityError:
                conn.execute(
                    AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key)
                )


class BatchedSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage whose event log is ``BatchedSqliteEventLogStorage``."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = BatchedSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: SqliteStorageConfig
    ) -> BatchedSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
