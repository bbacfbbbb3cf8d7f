"""The drift sensor judges every window exactly once whatever the commit order of the runs
writing them: interleaved write transactions on two threads (and connections), paused at
chosen statements, with sensor ticks in between."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import event, func, select

from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.schema import drift_scores
from monitoring_pipelines.store.windows import windows_since
from tests.conftest import postgres_schema
from tests.defs.drift_harness import HOUR, T0, Harness
from tests.store.partition_writers import WAIT, Writer, paused_before

COUNTER_BUMP = "UPDATE store_counters "


def judged(harness: Harness) -> tuple[Counter, Counter]:
    """How often each window got its metrics row, and each drift alert was enqueued."""
    rows = harness.outbox()
    metrics = Counter(r["window_start"] for r in rows if r["kind"] == outbox.METRICS)
    drift = Counter((r["window_start"], r["column_name"]) for r in rows if r["kind"] == "drift")
    return metrics, drift


def ids(harness: Harness, hour: int) -> list[int]:
    with harness.engine.connect() as conn:
        return (
            conn.execute(
                select(drift_scores.c.id).where(drift_scores.c.window_start == T0 + hour * HOUR)
            )
            .scalars()
            .all()
        )


@pytest.mark.postgres
def test_window_committed_after_a_later_id_window_was_judged_is_judged_once(
    tmp_path, dagster_instance
):
    with postgres_schema("mp_order") as url:
        harness = Harness(tmp_path, dagster_instance, url=url)
        inserted, resume = threading.Event(), threading.Event()
        run_a = Writer("run_a", lambda: harness.write(0, {"age": "significant"}))
        with paused_before(
            harness.engine, COUNTER_BUMP, run_a.name, inserted.set, lambda: resume.wait(WAIT)
        ):
            run_a.start()
            assert inserted.wait(WAIT)  # run A's rows are inserted (ids taken), not committed
            harness.write(1, {"income": "significant"})  # run B commits first
            first = harness.tick(None)
            assert judged(harness) == (
                Counter({T0 + HOUR: 1}),
                Counter({(T0 + HOUR, "income"): 1}),
            )
            resume.set()
            run_a.join(WAIT)
        assert run_a.error is None
        assert max(ids(harness, 0)) < min(ids(harness, 1))  # an id cursor would skip hour 0
        second = harness.tick(first.cursor)
        assert second.run_requests
        third = harness.tick(second.cursor)
        assert third.skip_reason is not None and not third.run_requests
        assert judged(harness) == (
            Counter({T0: 1, T0 + HOUR: 1}),
            Counter({(T0, "age"): 1, (T0 + HOUR, "income"): 1}),
        )


def test_two_runs_in_flight_are_judged_once_each_in_commit_order(
    empty_store_url, tmp_path, dagster_instance
):
    harness = Harness(tmp_path, dagster_instance, url=empty_store_url)
    engine = harness.engine
    committing, resume = threading.Event(), threading.Event()

    def hold_run_a_at_commit(_conn) -> None:
        if threading.current_thread().name == "run_a":
            committing.set()
            resume.wait(WAIT)

    event.listen(engine, "commit", hold_run_a_at_commit)
    try:
        run_a = Writer("run_a", lambda: harness.write(0, {"age": "significant"}))
        run_b = Writer("run_b", lambda: harness.write(1, {"income": "significant"}))
        run_a.start()
        assert committing.wait(WAIT)  # A holds its commit_seq, uncommitted
        run_b.start()
        assert not run_b.done.wait(1.0), "B committed while A, ordered before it, was in flight"
        idle = harness.tick(None)
        assert idle.skip_reason is not None and judged(harness) == (Counter(), Counter())
        resume.set()
        run_a.join(WAIT)
        run_b.join(WAIT)
    finally:
        event.remove(engine, "commit", hold_run_a_at_commit)
    assert (run_a.error, run_b.error) == (None, None)
    order = [w.window_start for w in windows_since(engine, "drift_scores", "hour", 0, 10)]
    assert order == [T0, T0 + HOUR]  # commit_seq order is commit order: A, then B
    both = harness.tick(None)
    assert both.cursor == "commit_seq:2"
    assert harness.tick(both.cursor).skip_reason is not None
    assert judged(harness) == (
        Counter({T0: 1, T0 + HOUR: 1}),
        Counter({(T0, "age"): 1, (T0 + HOUR, "income"): 1}),
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(drift_scores)).scalar_one() == 2
