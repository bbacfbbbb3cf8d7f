"""What a run's planned events cost at its start on the production event log (PostgreSQL).

A range run's start hands the event log one batch: a planned materialization per asset and
partition (a checked month of one deployment: 2,880 of them, plus its checks' planned
evaluations). This stores the same synthetic batch of planned materializations, on fresh
PostgreSQL databases, with the production storage's event log one event at a time
(dagster-postgres' own ``store_event_batch`` on the pooled engine, as before the batch was
written at once) and with ``PooledPostgresEventLogStorage.store_event_batch``, alternately,
and prints wall and client CPU seconds (the server's CPU is not counted) and their ratio.

Usage: ``.venv/bin/python -m benchmarks.planned_events [--hours 720] [--assets 4]
[--repeats 2]``; PostgreSQL at ``$TEST_POSTGRES_URL`` (default the local test server).
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid
from datetime import timedelta

import dagster as dg
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster_postgres import PostgresEventLogStorage
from sqlalchemy import func, select

from benchmarks.partition_events import DEPLOYMENT, START, fresh_database, machine
from monitoring_pipelines.defs.instance_storage import PooledPostgresEventLogStorage
from monitoring_pipelines.defs.partitions import hour_key


class OneByOneEventLogStorage(PooledPostgresEventLogStorage):
    """The pooled event log writing a batch as dagster-postgres does (one by one if mixed)."""

    store_event_batch = PostgresEventLogStorage.store_event_batch


def planned_events(hours: int, assets: int) -> list[EventLogEntry]:
    """One run's planned materializations: ``assets`` assets × ``hours`` hour partitions."""
    run_id = str(uuid.uuid4())
    keys = [str(hour_key(DEPLOYMENT, START + timedelta(hours=i))) for i in range(hours)]
    return [
        EventLogEntry(
            error_info=None,
            level=logging.DEBUG,
            user_message="",
            run_id=run_id,
            timestamp=time.time(),
            dagster_event=DagsterEvent(
                event_type_value=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
                job_name="hourly_monitoring_job",
                event_specific_data=AssetMaterializationPlannedData(
                    dg.AssetKey(f"asset_{a}"), partition=key
                ),
            ),
        )
        for a in range(assets)
        for key in keys
    ]


def store_seconds(storage_class: type, events: list[EventLogEntry]) -> tuple[float, float, int]:
    """Wall and client CPU seconds of storing ``events`` as one batch on a fresh database,
    and the event rows it then holds."""
    with fresh_database("bench_planned") as url:
        storage = storage_class(url)
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            storage.store_event_batch(events)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            with storage.index_connection() as conn:
                rows = conn.execute(
                    select(func.count()).select_from(SqlEventLogStorageTable)
                ).scalar()
        finally:
            storage.dispose()
    return wall, cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=720)
    parser.add_argument("--assets", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    events = planned_events(args.hours, args.assets)
    print(f"{machine()}; {len(events):,} planned materializations in one batch")
    for _ in range(args.repeats):
        before = store_seconds(OneByOneEventLogStorage, events)
        after = store_seconds(PooledPostgresEventLogStorage, events)
        assert before[2] == after[2] == len(events), (before, after)
        print(
            f"one by one {before[0]:.2f} s wall, {before[1]:.2f} CPU-s; at once {after[0]:.2f} s "
            f"wall, {after[1]:.2f} CPU-s ({before[0] / after[0]:.1f}× wall, "
            f"{before[1] / after[1]:.1f}× CPU)"
        )


if __name__ == "__main__":
    main()
