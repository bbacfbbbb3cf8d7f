"""The alert outbox: one row per dedup key, claims, attempts, history, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitoring_pipelines.stats.alert_policy import DRIFT, RESOLVED, Alert, LastAlert
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import alerts

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def alert(hour: int, column: str = "age", severity: str = "critical", kind: str = DRIFT) -> Alert:
    return Alert(
        deployment_id="credit_risk",
        kind=kind,
        severity=severity,
        window_start=T0 + hour * HOUR,
        window_end=T0 + (hour + 1) * HOUR,
        granularity="hour",
        column_name=column,
        metric="psi",
        value=0.4,
        p_value=None,
        threshold=0.25,
        status="significant",
        reason="test",
    )


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(alerts)).scalar_one()


def check_enqueue_is_idempotent(engine) -> None:
    entries = [outbox.alert_entry(alert(h), "C0ALERTS1") for h in range(3)]
    first = outbox.enqueue(engine, entries)
    assert len(first) == 3
    assert outbox.enqueue(engine, entries) == []
    more = outbox.enqueue(engine, [*entries, outbox.alert_entry(alert(3))])
    assert len(more) == 1 and more[0] not in first
    assert count(engine) == 4


def test_enqueue_skips_present_dedup_keys_sqlite(sqlite_engine):
    check_enqueue_is_idempotent(sqlite_engine)


@pytest.mark.postgres
def test_enqueue_skips_present_dedup_keys_postgres(postgres_url):
    engine = get_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(alerts.delete())
    check_enqueue_is_idempotent(engine)
    assert engine.dialect.name == "postgresql"


def test_concurrent_enqueues_never_duplicate(sqlite_engine):
    entries = [outbox.alert_entry(alert(h, c)) for h in range(10) for c in ("a", "b", "c")]
    results: list[list[int]] = []

    def run() -> None:
        results.append(outbox.enqueue(sqlite_engine, entries))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for batch in results for i in batch]
    assert sorted(ids) == sorted(set(ids))
    assert len(ids) == count(sqlite_engine) == len(entries)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(st.integers(0, 6), max_size=8), min_size=1, max_size=5))
def test_rows_equal_distinct_keys(sqlite_engine, batches):
    with sqlite_engine.begin() as conn:
        conn.execute(alerts.delete())
    for batch in batches:
        outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert(h)) for h in batch])
    assert count(sqlite_engine) == len({h for batch in batches for h in batch})


def test_claim_attempts_and_outcomes(sqlite_engine):
    [first, second] = outbox.enqueue(
        sqlite_engine, [outbox.alert_entry(alert(0)), outbox.alert_entry(alert(1))]
    )
    metrics = outbox.enqueue(
        sqlite_engine, [outbox.metrics_entry("credit_risk", T0, T0 + HOUR, "hour", [], 10)]
    )
    assert [r["id"] for r in outbox.pending(sqlite_engine, "slack")] == [first, second]
    assert [r["id"] for r in outbox.pending(sqlite_engine, "cloudwatch")] == metrics
    assert outbox.claim(sqlite_engine, [first, second], "slack") == [first, second]
    assert outbox.claim(sqlite_engine, [first], "slack") == []
    assert outbox.pending(sqlite_engine, "slack") == []
    outbox.record_attempt(sqlite_engine, first, "slack", ok=False, error="HTTP 500")
    outbox.record(sqlite_engine, [second], "slack", outbox.SENT, slack_ts="1.2")
    rows = {r["id"]: r for r in outbox.list_recent(sqlite_engine)}
    assert (rows[first]["slack_status"], rows[first]["slack_attempts"]) == ("pending", 1)
    assert rows[first]["slack_last_error"] == "HTTP 500"
    assert (rows[second]["slack_status"], rows[second]["slack_ts"]) == ("sent", "1.2")
    assert rows[second]["slack_sent_at"] is not None
    assert rows[second]["cloudwatch_status"] == "skipped"


def test_stale_claims_are_found_and_released(sqlite_engine):
    [row_id] = outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert(0))])
    outbox.claim(sqlite_engine, [row_id], "slack")
    assert outbox.stale_claims(sqlite_engine, "slack", timedelta(minutes=10)) == []
    [stale] = outbox.stale_claims(sqlite_engine, "slack", timedelta(0))
    assert stale["id"] == row_id and stale["slack_status"] == "sending"
    outbox.release(sqlite_engine, [row_id], "slack", outbox.UNCONFIRMED)  # it may have left
    assert outbox.pending(sqlite_engine, "slack") == []
    [again] = outbox.with_status(sqlite_engine, "slack", (outbox.UNCONFIRMED,))
    assert (again["slack_attempts"], again["slack_unconfirmed"]) == (1, True)


def test_recent_history_is_the_last_alert_per_column_and_metric(sqlite_engine):
    outbox.enqueue(
        sqlite_engine,
        [
            outbox.alert_entry(alert(0, "age", "warning")),
            outbox.alert_entry(alert(1, "age", "critical")),
            outbox.alert_entry(alert(2, "age", "info", RESOLVED)),
            outbox.alert_entry(alert(1, "income", "warning")),
            outbox.metrics_entry("credit_risk", T0, T0 + HOUR, "hour", [], 10),
        ],
    )
    history = outbox.recent_history(sqlite_engine, "credit_risk", T0)
    assert sorted(history, key=lambda h: h.column_name) == [
        LastAlert("credit_risk", "age", "psi", RESOLVED, "info", T0 + 2 * HOUR),
        LastAlert("credit_risk", "income", "psi", DRIFT, "warning", T0 + HOUR),
    ]
    assert outbox.recent_history(sqlite_engine, "credit_risk", T0 + 3 * HOUR) == []
    assert outbox.recent_history(sqlite_engine, "other", T0) == []


def test_list_recent_and_bad_arguments(sqlite_engine):
    outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert(h)) for h in range(5)])
    recent = outbox.list_recent(sqlite_engine, limit=2)
    assert [r["window_start"] for r in recent] == [T0 + 4 * HOUR, T0 + 3 * HOUR]
    with pytest.raises(ValueError, match="limit must be >= 1"):
        outbox.list_recent(sqlite_engine, limit=0)
    with pytest.raises(ValueError, match=r"'email'.*slack, cloudwatch"):
        outbox.pending(sqlite_engine, "email")
