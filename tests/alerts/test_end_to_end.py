"""Drift results → policy → outbox → local Slack and moto, across two sensor ticks and a
restart: one message per window, and a resolve updates its original and replies in its thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import SlackRouting, enqueue_drift
from monitoring_pipelines.stats.alert_policy import AlertSettings, DriftRecord

HOUR = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 8 * HOUR
PSI = {"no_drift": 0.03, "moderate": 0.17, "significant": 0.42}
TIMELINE = {  # hour → status per column (psi): drift injected into age from hour 1
    0: {"age": "no_drift", "income": "no_drift", "region": "no_drift"},
    1: {"age": "significant", "income": "no_drift", "region": "no_drift"},
    2: {"age": "significant", "income": "moderate", "region": "no_drift"},
    3: {"age": "significant", "income": "no_drift", "region": "no_drift"},
    4: {"age": "no_drift", "income": "no_drift", "region": "no_drift"},
}


def record(hour: int, column: str, status: str) -> DriftRecord:
    start = T0 + hour * HOUR
    drifted = status != "no_drift"
    return DriftRecord("credit_risk", start, start + HOUR, "hour", column, "psi", PSI[status],
                       None, 0.25, status, drifted)  # fmt: skip


def records(hours) -> list[DriftRecord]:
    return [record(h, column, status) for h in hours for column, status in TIMELINE[h].items()]


def test_two_ticks_a_restart_and_delivery(sqlite_engine, slack, fake_slack, cloudwatch,
                                          cloudwatch_reader):  # fmt: skip
    settings = {"credit_risk": AlertSettings.from_mapping({"cooldown_minutes": 360})}
    routing = {"credit_risk": SlackRouting("C0MODELS1", {"critical": "C0CRITIC1"})}
    rows = {("credit_risk", T0 + h * HOUR, "hour"): 1000 + h for h in TIMELINE}

    first = enqueue_drift(sqlite_engine, records([0, 1, 2]), settings, routing, rows)
    assert [(a.column_name, a.severity) for a in first.decision.alerts] == [
        ("age", "critical"),
        ("income", "warning"),
    ]
    assert len(first.metrics_ids) == 3
    restarted = enqueue_drift(sqlite_engine, records([0, 1, 2]), settings, routing, rows)
    assert (restarted.alert_ids, restarted.metrics_ids) == ((), ())
    deliver_pending(sqlite_engine, slack, cloudwatch)
    assert [m["text"] for m in fake_slack.messages] == [
        f"Critical drift · credit_risk · {T0 + HOUR:%Y-%m-%d %H:%M}–{T0 + 2 * HOUR:%H:%M} UTC: age",
        f"Warning drift · credit_risk · {T0 + 2 * HOUR:%Y-%m-%d %H:%M}–{T0 + 3 * HOUR:%H:%M} UTC: "
        "income",
    ]

    second = enqueue_drift(sqlite_engine, records([3, 4]), settings, routing, rows)
    assert [(a.kind, a.column_name, (a.window_start - T0) // HOUR) for a in second.decision.alerts
            ] == [("resolved", "income", 3), ("resolved", "age", 4)]  # fmt: skip
    assert "cooldown" in next(
        s.reason for s in second.decision.suppressed if s.record.column_name == "age"
    )
    report = deliver_pending(sqlite_engine, slack, cloudwatch)
    assert (report.count("slack", "sent"), report.count("cloudwatch", "sent")) == (2, 2)

    window = lambda h: f"{T0 + h * HOUR:%Y-%m-%d %H:%M}–{T0 + (h + 1) * HOUR:%H:%M} UTC"  # noqa: E731
    first, second = fake_slack.messages[:2]
    assert [(m["channel"], m["text"], m["thread_ts"]) for m in fake_slack.messages] == [
        ("C0CRITIC1", f"Resolved · credit_risk · {window(1)}: age", None),
        ("C0MODELS1", f"Resolved · credit_risk · {window(2)}: income", None),
        (
            "C0MODELS1",
            f"Resolved · credit_risk · stable again in {window(3)} (hour): income",
            second["ts"],
        ),
        (
            "C0CRITIC1",
            f"Resolved · credit_risk · stable again in {window(4)} (hour): age",
            first["ts"],
        ),
    ]  # fmt: skip  (the originals were updated in place: their text now reads "Resolved")
    assert [(u["channel"], u["ts"]) for u in fake_slack.updates] == [
        ("C0MODELS1", second["ts"]),
        ("C0CRITIC1", first["ts"]),
    ]
    assert first["blocks"][2]["text"]["text"] == (
        ":white_check_mark: *age*  ~psi 0.42 vs 0.25 significant~ :white_check_mark: stable "
        f"{T0 + 4 * HOUR:%H:%M}"
    )
    assert len(fake_slack.posts()) == 4  # each key posted once: two messages, two replies

    result = cloudwatch_reader.get_metric_data(
        MetricDataQueries=[
            {
                "Id": name,
                "MetricStat": {
                    "Metric": {
                        "Namespace": cloudwatch.settings.namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": "ModelName", "Value": "credit_risk"}],
                    },
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            }
            for name in ("max_drift_score", "drifted_columns", "rows_scored")
        ],
        StartTime=T0 - HOUR,
        EndTime=T0 + 6 * HOUR,
        ScanBy="TimestampAscending",
    )
    got = {r["Id"]: r["Values"] for r in result["MetricDataResults"]}
    expected_max = [max(PSI[s] for s in TIMELINE[h].values()) for h in sorted(TIMELINE)]
    expected_drifted = [
        sum(s != "no_drift" for s in TIMELINE[h].values()) for h in sorted(TIMELINE)
    ]
    assert got == {
        "max_drift_score": expected_max,
        "drifted_columns": [float(n) for n in expected_drifted],
        "rows_scored": [1000.0 + h for h in sorted(TIMELINE)],
    }
