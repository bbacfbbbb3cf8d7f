"""The alert table for the CLI: columns, statuses, a segment's alert and the empty case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitoring_pipelines.alerts.listing import format_alerts
from monitoring_pipelines.stats.alert_policy import Alert
from monitoring_pipelines.store import alerts as outbox

T0 = datetime(2026, 11, 1, 3, tzinfo=UTC)


def test_table_lists_alerts_first_then_metrics_with_channel_status(sqlite_engine):
    alert = Alert("credit_risk", "drift", "critical", T0, T0 + timedelta(hours=1), "hour", "age",
                  "psi", 0.41234, None, 0.25, "significant", "test")  # fmt: skip
    [alert_id] = outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert)])
    regional = replace(alert, column_name="annual_income", value=0.375, segment="region=northeast")
    outbox.enqueue(sqlite_engine, [outbox.alert_entry(regional)])
    outbox.enqueue(sqlite_engine, [outbox.metrics_entry("credit_risk", T0, T0, "hour", [], 5)])
    outbox.enqueue(sqlite_engine, [outbox.notice_entry("k", "Slack duplicate check impossible")])
    for _ in range(2):
        outbox.claim(sqlite_engine, [alert_id], "slack")
        outbox.record_attempt(sqlite_engine, alert_id, "slack", ok=False, error="down")
    lines = format_alerts(outbox.list_recent(sqlite_engine)).split("\n")
    assert lines[0].split() == ["id", "deployment", "window", "(UTC)", "kind", "severity",
                                "column", "metric", "reference", "segment", "value", "slack",
                                "cloudwatch", "note"]  # fmt: skip
    assert lines[1].split() == ["4", "all", "notice", "warning", "skipped", "skipped", "Slack",
                                "duplicate", "check", "impossible"]  # fmt: skip
    assert lines[2].split() == ["2", "credit_risk", "2026-11-01", "03:00", "drift", "critical",
                                "annual_income", "psi", "training", "region=northeast", "0.375",
                                "pending", "skipped"]  # fmt: skip
    # the population's alert leaves the segment cell blank
    assert lines[3].split() == ["1", "credit_risk", "2026-11-01", "03:00", "drift", "critical",
                                "age", "psi", "training", "0.4123", "pending", "×2",
                                "skipped", "down"]  # fmt: skip
    assert lines[4].split() == ["3", "credit_risk", "2026-11-01", "03:00", "metrics", "info",
                                "skipped", "pending"]  # fmt: skip
    assert lines[0].index("kind") == lines[3].index("drift") == lines[4].index("metrics")
    assert lines[0].index("segment") == lines[2].index("region=northeast")
    assert lines[3][lines[0].index("segment") :].startswith(" " * len("region=northeast"))


def test_empty_outbox():
    assert format_alerts([]) == "no alerts in the outbox"
