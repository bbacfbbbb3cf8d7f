"""The per-partition and planned-events benchmarks at a tiny size, so they keep running as
Dagster changes (the planned events on the real PostgreSQL)."""

from __future__ import annotations

from benchmarks.partition_events import machine, run_seconds
from benchmarks.planned_events import OneByOneEventLogStorage, planned_events, store_seconds
from monitoring_pipelines.defs.instance_storage import PooledPostgresEventLogStorage
from tests.conftest import postgres_or_skip


def test_both_runs_materialize_every_hour_once():
    # run_seconds asserts the run succeeded and left one materialization per hour
    assert run_seconds(3, with_events=False) > 0
    assert run_seconds(3, with_events=True) > 0
    assert "cores" in machine()


def test_planned_events_are_stored_whole_both_ways():
    postgres_or_skip()
    events = planned_events(hours=3, assets=2)
    for storage_class in (OneByOneEventLogStorage, PooledPostgresEventLogStorage):
        _, _, rows = store_seconds(storage_class, events)
        assert rows == 6
