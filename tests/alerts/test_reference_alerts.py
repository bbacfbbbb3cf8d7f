"""Alerts say which reference drifted: drift against training and against last week have
their own dedup keys, cooldowns and resolved notices, and Slack (the local fake), CloudWatch
(moto) and the alerts listing name the reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import SlackRouting, enqueue_drift
from monitoring_pipelines.alerts.listing import format_alerts
from monitoring_pipelines.stats.alert_policy import AlertSettings, DriftRecord, decide_alerts
from monitoring_pipelines.store import alerts as outbox

HOUR = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * HOUR
PSI = {"no_drift": 0.03, "significant": 0.42}
TIMELINE = {  # hour → status of age's psi per reference
    1: {"training": "significant", "last_week": "significant"},
    2: {"training": "significant", "last_week": "significant"},
    3: {"training": "no_drift", "last_week": "significant"},
}


def records(hour: int) -> list[DriftRecord]:
    start = T0 + hour * HOUR
    return [
        DriftRecord(
            "credit_risk",
            start,
            start + HOUR,
            "hour",
            "age",
            "psi",
            PSI[status],
            None,
            0.25,
            status,
            status != "no_drift",
            reference,
        )
        for reference, status in TIMELINE[hour].items()
    ]


def test_each_reference_alerts_resolves_and_is_named(
    sqlite_engine, slack, fake_slack, cloudwatch, cloudwatch_reader
):
    settings = {"credit_risk": AlertSettings.from_mapping({"cooldown_minutes": 360})}
    routing = {"credit_risk": SlackRouting("C0MODELS1")}
    rows = {("credit_risk", T0 + h * HOUR, "hour"): 900 for h in TIMELINE}
    first = enqueue_drift(sqlite_engine, records(1), settings, routing, rows)
    stamp = (T0 + HOUR).isoformat()
    assert sorted(a.dedup_key for a in first.decision.alerts) == [
        f"credit_risk|hour|{stamp}|age|psi|critical",  # training's key as it always was
        f"credit_risk|hour|{stamp}|age|psi|critical|last_week",
    ]
    again = enqueue_drift(sqlite_engine, records(1), settings, routing, rows)
    assert (again.alert_ids, again.metrics_ids) == ((), ())
    listing = format_alerts(outbox.list_recent(sqlite_engine)).split("\n")
    assert [line.split()[8] for line in listing if " drift " in line] == ["training", "last_week"]

    deliver_pending(sqlite_engine, slack, cloudwatch)
    [message] = fake_slack.messages  # one window, one message, both references in it
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields[-1] == "*Reference*\ntraining, last_week"
    assert message["blocks"][2]["text"]["text"] == (
        ":red_circle: *age*  psi against last_week 0.42 vs 0.25 significant · "
        "psi 0.42 vs 0.25 significant"
    )

    # hour 2: both in cooldown, each on its own history; hour 3: training resolves alone
    second = enqueue_drift(sqlite_engine, records(2) + records(3), settings, routing, rows)
    assert [(a.kind, a.reference, (a.window_start - T0) // HOUR) for a in second.decision.alerts
            ] == [("resolved", "training", 3)]  # fmt: skip
    held = sorted((s.record.reference, s.reason.split(":")[0]) for s in second.decision.suppressed)
    assert held == [("last_week", "cooldown"), ("last_week", "cooldown"), ("training", "cooldown")]
    deliver_pending(sqlite_engine, slack, cloudwatch)
    reply = fake_slack.messages[-1]
    assert reply["thread_ts"] == message["ts"]
    assert reply["blocks"][1]["text"]["text"] == "• *age* psi"  # training's psi, not last week's
    [update] = fake_slack.updates
    lines = update["blocks"][2]["text"]["text"]
    assert lines.startswith(":red_circle: *age*  psi against last_week 0.42 vs 0.25 significant")
    assert "~psi 0.42 vs 0.25 significant~ :white_check_mark: stable" in lines

    metrics = cloudwatch_reader.list_metrics(Namespace=cloudwatch.settings.namespace)["Metrics"]
    dimensions = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in metrics
    }
    model = ("ModelName", "credit_risk")
    feature = (("Feature", "age"), ("Metric", "psi"))
    assert ("drift_score", (*feature, model)) in dimensions
    assert ("drift_score", (*feature, model, ("Reference", "last_week"))) in dimensions
    assert ("max_drift_score", (model,)) in dimensions
    assert ("max_drift_score", (model, ("Reference", "last_week"))) in dimensions
    assert not any(("Reference", "training") in dims for _, dims in dimensions)


def test_alerts_can_keep_to_one_reference():
    settings = {"credit_risk": AlertSettings.from_mapping({"references": ["last_week"]})}
    decision = decide_alerts(records(1), settings, [])
    assert [a.reference for a in decision.alerts] == ["last_week"]
    [held] = decision.suppressed
    assert held.reason == "psi on age against training is not watched"
