"""Alerts per segment: a region's drift has its own dedup key and cooldown beside the
population's, and Slack (the local fake) names the segment with the population's number
beside it while CloudWatch (moto) gets a Segment dimension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import SlackRouting, enqueue_drift
from monitoring_pipelines.stats.alert_policy import AlertSettings, DriftRecord
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.store.drift import read_drift_scores, write_drift_scores

HOUR = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * HOUR


def _psi(value: float) -> DriftResult:
    status = "significant" if value >= 0.25 else "no_drift"
    return DriftResult("psi", value, None, 0.1, status, value >= 0.1, 5_000, 900)


def _hour(engine, hour: int, eu: float, us: float, population: float) -> list[DriftRecord]:
    start = T0 + hour * HOUR
    write_drift_scores(
        engine,
        "credit_risk",
        start,
        start + HOUR,
        "hour",
        {"annual_income": (_psi(population),)},
        segments={
            "region=eu": {"annual_income": (_psi(eu),)},
            "region=us": {"annual_income": (_psi(us),)},
        },
    )
    rows = read_drift_scores(engine, "credit_risk", start, start + HOUR, "hour", segment=None)
    return [DriftRecord.from_mapping(row) for row in rows]


def test_a_segment_alerts_on_its_own_key_and_names_the_population(
    sqlite_engine, slack, fake_slack, cloudwatch, cloudwatch_reader
):
    settings = {"credit_risk": AlertSettings.from_mapping({"cooldown_minutes": 360})}
    routing = {"credit_risk": SlackRouting("C0MODELS1")}
    first = enqueue_drift(
        sqlite_engine, _hour(sqlite_engine, 1, eu=0.42, us=0.02, population=0.04), settings, routing
    )
    stamp = (T0 + HOUR).isoformat()
    assert [a.dedup_key for a in first.decision.alerts] == [
        f"credit_risk|hour|{stamp}|annual_income|psi|critical|region=eu"
    ]
    deliver_pending(sqlite_engine, slack, cloudwatch)
    [message] = fake_slack.messages
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields[-1] == "*Segment*\nregion=eu"
    assert message["blocks"][2]["text"]["text"] == (
        ":red_circle: *annual_income*  psi in region=eu 0.42 vs 0.1 significant "
        "(population 0.04 no_drift)"
    )
    # hour 2: eu still drifts (cooldown, its own history), us starts: alerts on its own key
    second = enqueue_drift(
        sqlite_engine, _hour(sqlite_engine, 2, eu=0.45, us=0.3, population=0.05), settings, routing
    )
    assert [(a.segment, a.kind) for a in second.decision.alerts] == [("region=us", "drift")]
    held = [(s.record.segment, s.reason.split(":")[0]) for s in second.decision.suppressed]
    assert ("region=eu", "cooldown") in held

    deliver_pending(sqlite_engine, slack, cloudwatch)
    metrics = cloudwatch_reader.list_metrics(Namespace=cloudwatch.settings.namespace)["Metrics"]
    dimensions = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in metrics
    }
    model = ("ModelName", "credit_risk")
    feature = (("Feature", "annual_income"), ("Metric", "psi"))
    assert ("drift_score", (*feature, model)) in dimensions  # the population's, unchanged
    assert ("drift_score", (*feature, model, ("Segment", "region=eu"))) in dimensions
    assert ("max_drift_score", (model, ("Segment", "region=us"))) in dimensions
    assert ("max_drift_score", (model,)) in dimensions
