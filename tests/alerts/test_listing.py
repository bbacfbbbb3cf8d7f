"""The alert table for the CLI: columns, statuses and the empty case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring_pipelines.alerts.listing import format_alerts
from monitoring_pipelines.stats.alert_policy import Alert
from monitoring_pipelines.store import alerts as outbox

T0 = datetime(2026, 11, 1, 3, tzinfo=UTC)


def test_table_lists_alerts_first_then_metrics_with_channel_status(sqlite_engine):
    alert = Alert("credit_risk", "drift", "critical", T0, T0 + timedelta(hours=1), "hour", "age",
                  "psi", 0.41234, None, 0.25, "significant", "test")  # fmt: skip
    [alert_id] = outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert)])
    outbox.enqueue(sqlite_engine, [outbox.metrics_entry("credit_risk", T0, T0, "hour", [], 5)])
    outbox.enqueue(sqlite_engine, [outbox.notice_entry("k", "Slack duplicate check impossible")])
    for _ in range(2):
        outbox.claim(sqlite_engine, [alert_id], "slack")
        outbox.record_attempt(sqlite_engine, alert_id, "slack", ok=False, error="down")
    lines = format_alerts(outbox.list_recent(sqlite_engine)).split("\n")
    assert lines[0].split() == ["id", "deployment", "window", "(UTC)", "kind", "severity",
                                "column", "metric", "reference", "value", "slack",
                                "cloudwatch", "note"]  # fmt: skip
    assert lines[1].split() == ["3", "all", "notice", "warning", "skipped", "skipped", "Slack",
                                "duplicate", "check", "impossible"]  # fmt: skip
    assert lines[2].split() == ["1", "credit_risk", "2026-11-01", "03:00", "drift", "critical",
                                "age", "psi", "training", "0.4123", "pending", "×2",
                                "skipped", "down"]  # fmt: skip
    assert lines[3].split() == ["2", "credit_risk", "2026-11-01", "03:00", "metrics", "info",
                                "skipped", "pending"]  # fmt: skip
    assert lines[0].index("kind") == lines[2].index("drift") == lines[3].index("metrics")


def test_empty_outbox():
    assert format_alerts([]) == "no alerts in the outbox"
