"""benchmarks.kafka_backfill at a tiny size: both ways read every event once per its hour."""

from __future__ import annotations

from benchmarks.kafka_backfill import kafka_backfill
from tests.conftest import broker_or_skip


def test_both_reads_return_every_event(tmp_path):
    broker_or_skip().stop()  # a clear skip without the broker (a failure under CI=true)
    results = kafka_backfill(hours=2, per_hour=30)
    assert {rows for rows, _ in results.values()} == {60}
    assert all(seconds > 0 for _, seconds in results.values())
