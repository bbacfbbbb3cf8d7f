"""Performance in alerts and metrics: a drop alone alerts (rules validated, naming the field);
the Slack message shows performance beside the window's drift; CloudWatch (moto) gets
accuracy, estimated accuracy and latency p95 per hour; a retraining decision reaches Slack
and CloudWatch through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import Sinks, SlackRouting
from monitoring_pipelines.alerts.performance import enqueue_performance
from monitoring_pipelines.config import ConfigError, parse_config
from monitoring_pipelines.pipeline.retraining import evaluate_retraining
from monitoring_pipelines.stats.drift import score
from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import Performance
from monitoring_pipelines.stats.performance_alerts import (
    LastPerformanceAlert,
    PerformanceRules,
    WindowNumbers,
    decide_performance_alerts,
)
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import write_drift_scores
from monitoring_pipelines.store.performance import (
    BaselinePerformance,
    read_window_performance,
    write_baseline_performance,
    write_performance,
)
from monitoring_pipelines.store.windows import windows_since
from tests.alerts.conftest import CHANNEL

H = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * H
RULES = PerformanceRules(
    thresholds={
        "accuracy": {"warning": 0.8, "critical": 0.7},
        "estimated_accuracy": {"warning": 0.8},
        "latency_p95": {"warning": 200.0},
    },
    baseline_margin={"warning": 0.05},
    min_labelled_rows=50,
    cooldown=timedelta(hours=3),
)


def numbers(hour: int, accuracy: float | None, estimated: float | None = None, n: int = 400,
            latency: float = 100.0, baseline: float | None = 0.86) -> WindowNumbers:  # fmt: skip
    realized = {"latency_p95": latency} | ({"accuracy": accuracy} if accuracy is not None else {})
    estimate = {"accuracy": estimated} if estimated is not None else {}
    start = T0 + hour * H
    return WindowNumbers("m", start, start + H, realized, estimate, n, "accuracy", baseline)


def decide(windows, history=()):
    return [
        (int((a.window_start - T0) / H), a.metric, a.severity)
        for a in decide_performance_alerts(windows, {"m": RULES}, history)
    ]


def test_each_rule_alone_and_a_healthy_window():
    assert decide([numbers(0, 0.85, 0.85)]) == []
    assert decide([numbers(0, 0.75, 0.85)]) == [(0, "accuracy", "warning"),
                                                (0, "baseline_margin", "warning")]  # fmt: skip
    assert decide([numbers(0, 0.65, 0.85, baseline=None)]) == [(0, "accuracy", "critical")]
    assert decide([numbers(0, None, 0.72, n=0)]) == [(0, "estimated_accuracy", "warning")]
    assert decide([numbers(0, 0.85, 0.85, latency=250.0)]) == [(0, "latency_p95", "warning")]
    assert decide([numbers(0, 0.80, 0.85, baseline=0.84)]) == []  # 0.04 worse: inside margin
    assert decide([numbers(0, 0.5, 0.85, n=49, baseline=None)]) == []  # too few labels


def test_the_cooldown_holds_the_same_severity_and_lets_a_worse_one_through():
    windows = [numbers(h, 0.75, baseline=None) for h in range(4)] + [
        numbers(4, 0.65, baseline=None)
    ]
    assert decide(windows) == [(0, "accuracy", "warning"), (3, "accuracy", "warning"),
                               (4, "accuracy", "critical")]  # fmt: skip
    earlier = LastPerformanceAlert("m", "accuracy", "warning", T0 - H)
    assert decide(windows[:1], [earlier]) == []


def deployment(tmp_path, horizon: int = 168, **blocks):
    data = {
        "id": "m",
        "reference": {"path": "ref.parquet"},
        "validation": {"path": "validation.parquet"},
        "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
        "start": "2026-11-01T00:00:00Z",
        "columns": [
            {"name": "rid", "role": "request_id"},
            {"name": "ts", "role": "timestamp"},
            {"name": "x", "type": "numerical"},
            {"name": "pred", "type": "categorical", "role": "prediction"},
            {"name": "y", "type": "categorical", "role": "label"},
        ],
        "labels": {
            "type": "parquet",
            "path": "labels",
            "arrival_column": "at",
            "task": "binary",
            "positive_class": "1",
            "label_horizon_hours": horizon,
        },
        **blocks,
    }
    return {"deployments": [data]}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"thresholds": {"acuracy": {"warning": 0.8}}},
         r"performance_alerts.thresholds.acuracy: unknown performance metric for task binary"),
        ({"thresholds": {"rmse": {"warning": 2.0}}}, r"thresholds.rmse: unknown performance"),
        ({"thresholds": {"accuracy": {"warning": 1.8}}},
         r"thresholds.accuracy.warning: accuracy lives in \[0, 1\]"),
        ({"thresholds": {"accuracy": {"warning": 0.7, "critical": 0.8}}},
         r"thresholds.accuracy: critical 0.8 must be below warning 0.7"),
        ({"thresholds": {"latency_p95": {"warning": 500, "critical": 300}}},
         r"thresholds.latency_p95: critical 300.0 must be above warning 500.0"),
        ({"thresholds": {"accuracy": {"bad": 0.7}}}, r"thresholds.accuracy.bad: unknown severity"),
        ({"baseline_margin": {"warning": -0.1}}, r"baseline_margin.warning: a margin must be"),
        ({"min_labelled_rows": 0}, r"performance_alerts.min_labelled_rows"),
    ],
)  # fmt: skip
def test_bad_performance_rules_name_the_field(tmp_path, block, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(deployment(tmp_path, performance_alerts=block), base=tmp_path)


def test_a_baseline_margin_needs_a_validation_set(tmp_path):
    data = deployment(tmp_path, performance_alerts={"baseline_margin": {"warning": 0.05}})
    del data["deployments"][0]["validation"]
    with pytest.raises(ConfigError, match=r"performance_alerts\.baseline_margin needs a valid"):
        parse_config(data, base=tmp_path)


def store_hour(engine, hour: int, accuracy: float, n_labelled: int = 300,
               through: timedelta = H) -> None:  # fmt: skip
    """Hour ``hour`` computed with the labels up to ``through`` after its start."""
    start = T0 + hour * H
    latency = LatencySketch.from_values([50.0] * 90 + [400.0] * 10)
    performance = Performance("binary", "ok", 1000, n_labelled, {"accuracy": accuracy, "f1": 0.5})
    baseline = BaselinePerformance(T0 - 48 * H, 2000, {"accuracy": 0.86}, {})
    write_performance(engine, "m", start, start + H, performance, latency, start + through,
                      baseline)  # fmt: skip


def test_a_drop_alone_reaches_slack_beside_the_drift_and_cloudwatch_gets_the_numbers(
    tmp_path, sqlite_engine, slack, fake_slack, cloudwatch, cloudwatch_reader
):
    rules = {"thresholds": {"accuracy": {"warning": 0.8, "critical": 0.7}},
             "baseline_margin": {"warning": 0.05}}  # fmt: skip
    config = parse_config(deployment(tmp_path, performance_alerts=rules, horizon=2), base=tmp_path)
    store_hour(sqlite_engine, 0, 0.85, through=3 * H)  # final: end + 2 h horizon
    store_hour(sqlite_engine, 1, 0.66, through=3 * H)
    rng = np.random.default_rng(1)
    shifted = score("psi", rng.normal(size=500), rng.normal(2, 1, 500))
    write_drift_scores(sqlite_engine, "m", T0 + H, T0 + 2 * H, "hour", {"x": (shifted,)})
    new = windows_since(sqlite_engine, "model_performance", "hour", 0, 100)
    routing = {"m": SlackRouting(CHANNEL)}
    tick = enqueue_performance(sqlite_engine, config, new, routing, Sinks())
    assert [(a.metric, a.severity) for a in tick.alerts] == [
        ("accuracy", "critical"),
        ("baseline_margin", "warning"),
    ]
    assert len(tick.metrics_ids) == 2 and tick.deliverable == 4
    again = enqueue_performance(sqlite_engine, config, new, routing, Sinks())
    assert (again.alert_ids, again.metrics_ids) == ((), ())  # dedup keys: nothing twice

    deliver_pending(sqlite_engine, slack, cloudwatch)
    texts = [m["text"] for m in fake_slack.messages]
    window = f"{T0 + H:%Y-%m-%d %H:%M}–{T0 + 2 * H:%H:%M} UTC"
    assert texts == [
        f"Critical performance · m · {window}: accuracy 0.66 below critical bound 0.7 "
        "(300 labelled rows)",
        f"Warning performance · m · {window}: accuracy 0.66 is 0.2 worse than the baseline "
        "0.86 (margin 0.05)",
    ]
    sections = [b["text"]["text"] for b in fake_slack.messages[0]["blocks"] if "text" in b
                and b["type"] == "section"]  # fmt: skip
    p95 = LatencySketch.from_values([50.0] * 90 + [400.0] * 10).quantile(0.95)
    assert sections[1].split("\n") == [
        f"*Performance* (300 labelled): accuracy 0.66 · f1 0.5 · latency_p95 {p95:.3g}",
        "*vs baseline*: accuracy -0.2 (baseline 0.86)",
    ]
    assert "*Drift*: 1 drifted column(s): x" in sections

    def values(name: str) -> list[float]:
        result = cloudwatch_reader.get_metric_statistics(
            Namespace=cloudwatch.settings.namespace, MetricName=name,
            Dimensions=[{"Name": "ModelName", "Value": "m"}], StartTime=T0 - H,
            EndTime=T0 + 3 * H, Period=3600, Statistics=["Maximum"],
        )  # fmt: skip
        return [p["Maximum"] for p in sorted(result["Datapoints"], key=lambda p: p["Timestamp"])]

    assert values("accuracy") == [0.85, 0.66]
    assert values("latency_p95") == pytest.approx([p95, p95])
    assert values("labelled_rows") == [300.0, 300.0]


def test_cloudwatch_gets_an_hours_realized_performance_once_when_its_labels_are_final(
    tmp_path, sqlite_engine, cloudwatch, cloudwatch_reader
):
    """Labels arrive (50, 500, 1,500 at accuracy 0.80, 0.78, 0.781): the store keeps each
    recomputation, CloudWatch gets nothing realized until the recomputation at the horizon
    (2 h after the hour's end), then exactly one datum per metric; a re-run adds none."""
    config = parse_config(deployment(tmp_path, horizon=2), base=tmp_path)
    sends = [(0.80, 50, H + H / 4), (0.78, 500, 2 * H), (0.781, 1500, 2 * H + H / 2)]

    def statistics(name: str) -> list[dict]:
        result = cloudwatch_reader.get_metric_statistics(
            Namespace=cloudwatch.settings.namespace, MetricName=name,
            Dimensions=[{"Name": "ModelName", "Value": "m"}], StartTime=T0 - H,
            EndTime=T0 + 3 * H, Period=3600, Statistics=["SampleCount", "Average", "Sum"],
        )  # fmt: skip
        return result["Datapoints"]

    ticks = []
    for accuracy, n, through in [*sends, (0.781, 1500, 3 * H), (0.781, 1500, 3 * H)]:
        store_hour(sqlite_engine, 0, accuracy, n, through)
        new = windows_since(sqlite_engine, "model_performance", "hour", 0, 100)
        ticks.append(enqueue_performance(sqlite_engine, config, new, {}, Sinks(slack=False)))
        deliver_pending(sqlite_engine, None, cloudwatch, channels=("cloudwatch",))
        if through < 3 * H:  # provisional: nothing realized in CloudWatch yet
            for name in ("accuracy", "labelled_rows", "latency_p95"):
                assert statistics(name) == [], name
    assert [len(t.metrics_ids) for t in ticks] == [0, 0, 0, 1, 0]  # the final one, once
    rows = outbox.select_rows(sqlite_engine, ids=list(ticks[3].metrics_ids))
    assert [r["dedup_key"].rsplit("|", 1)[1] for r in rows] == ["final"]
    assert [r["cloudwatch_status"] for r in rows] == ["sent"]
    (accuracy,) = statistics("accuracy")
    assert (accuracy["SampleCount"], accuracy["Average"]) == (1.0, 0.781)
    (labelled,) = statistics("labelled_rows")
    assert (labelled["SampleCount"], labelled["Sum"]) == (1.0, 1500.0)
    (latency,) = statistics("latency_p95")
    assert latency["SampleCount"] == 1.0
    p95 = LatencySketch.from_values([50.0] * 90 + [400.0] * 10).quantile(0.95)
    assert latency["Average"] == pytest.approx(p95)
    # the stored hour keeps the latest numbers
    stored = read_window_performance(sqlite_engine, "m", T0)
    assert (stored.realized["accuracy"], stored.n_labelled) == (0.781, 1500)


def test_the_estimated_accuracy_is_enqueued_at_the_hours_first_computation_only(sqlite_engine):
    values = {"accuracy": 0.8, "estimated_accuracy": 0.83, "labelled_rows": 300.0}
    entries = [
        outbox.performance_metrics_entries("m", T0, T0 + H, values, final)
        for final in (False, False, True, True)
    ]
    ids = [outbox.enqueue(sqlite_engine, e) for e in entries]
    assert [len(i) for i in ids] == [1, 0, 1, 0]
    rows = outbox.select_rows(sqlite_engine, ids=[*ids[0], *ids[2]])
    assert {r["id"]: r["dedup_key"].rsplit("|", 1)[1] for r in rows} == {
        ids[0][0]: "estimated",
        ids[2][0]: "final",
    }
    assert {r["id"]: r["cloudwatch"]["performance"] for r in rows} == {
        ids[0][0]: {"estimated_accuracy": 0.83},
        ids[2][0]: {"accuracy": 0.8, "labelled_rows": 300.0},
    }


def test_a_retraining_decision_is_delivered_to_slack_and_cloudwatch(
    tmp_path, sqlite_engine, slack, fake_slack, cloudwatch, cloudwatch_reader
):
    retraining = {"accuracy_floor": 0.7, "baseline_margin": 0.05, "dry_run": True}
    config = parse_config(deployment(tmp_path, retraining=retraining), base=tmp_path)
    validation = Performance("binary", "ok", 2000, 2000, {"accuracy": 0.86})
    write_baseline_performance(sqlite_engine, "m", T0 - 48 * H, validation)
    store_hour(sqlite_engine, 1, 0.66)
    outcome = evaluate_retraining(
        sqlite_engine, config.deployments[0], T0 + 2 * H, Sinks(), SlackRouting(CHANNEL)
    )
    assert outcome.decision.retrain and len(outcome.outbox_ids) == 2
    deliver_pending(sqlite_engine, slack, cloudwatch)
    (message,) = fake_slack.messages
    assert message["text"] == (
        "Retraining (dry run) · m: accuracy 0.66 below floor 0.7; accuracy 0.66 vs baseline "
        "0.86: worse by 0.2 &gt; margin 0.05"
    )
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert "*Action*\ndry run: recorded, no run requested" in fields
    rows = outbox.select_rows(sqlite_engine, ids=list(outcome.outbox_ids))
    assert {r["kind"]: (r["slack_status"], r["cloudwatch_status"]) for r in rows} == {
        "retraining": ("sent", "skipped"),
        "metrics": ("skipped", "sent"),
    }
    result = cloudwatch_reader.get_metric_statistics(
        Namespace=cloudwatch.settings.namespace, MetricName="retraining_requested",
        Dimensions=[{"Name": "ModelName", "Value": "m"}], StartTime=T0 - H,
        EndTime=T0 + 3 * H, Period=3600, Statistics=["Sum"],
    )  # fmt: skip
    assert [p["Sum"] for p in result["Datapoints"]] == [1.0]
