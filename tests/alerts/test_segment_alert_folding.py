"""A segment's performance alert that copies the population's is folded into it: same window
and metric, the population alerting too, the segment not worse (accuracy >=, latency / RMSE /
log loss / baseline shortfall <=). The population's alert (its reason, payload and Slack
message) names those segments; a worse segment, or one breaching alone, alerts on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import Sinks
from monitoring_pipelines.alerts.performance import enqueue_performance
from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.stats.performance_alerts import (
    LastPerformanceAlert,
    PerformanceRules,
    WindowNumbers,
    decide_performance_alerts,
    not_worse,
)
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.performance import read_window_segments
from monitoring_pipelines.store.windows import windows_since
from tests.alerts.conftest import CHANNEL
from tests.pipeline.test_performance_segments import T0 as WORLD_T0
from tests.pipeline.test_performance_segments import config, world  # noqa: F401

T0 = datetime(2026, 11, 9, 15, tzinfo=UTC)
H = timedelta(hours=1)
REGIONS = ("region=midwest", "region=northeast", "region=south", "region=west")
RULES = {
    "m": PerformanceRules(
        {"accuracy": {"warning": 0.75, "critical": 0.7}, "latency_p95": {"warning": 500},
         "rmse": {"warning": 2.0}},
        baseline_margin={"warning": 0.05},
        min_labelled_rows=100,
    )
}  # fmt: skip


def hour(population: dict, segments: dict[str, dict], at: int = 0) -> list[WindowNumbers]:
    """One hour's numbers: the population's and each segment's (with the population's)."""
    start = T0 + at * H
    common = ("m", start, start + H)
    return [WindowNumbers(*common, population, {}, 500, "accuracy", 0.9)] + [
        WindowNumbers(*common, numbers, {}, 500, "accuracy", 0.9, segment, population)
        for segment, numbers in segments.items()
    ]


def sent(engine, alerts, fake_slack, slack) -> list[dict]:
    entries = [outbox.performance_entry(a, CHANNEL) for a in alerts]
    ids = outbox.enqueue(engine, entries)
    deliver_pending(engine, slack, None)
    return outbox.select_rows(engine, ids=ids), fake_slack.messages


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]


def test_not_worse_goes_the_metrics_way():
    assert not_worse("accuracy", 0.80, 0.80) and not_worse("accuracy", 0.81, 0.80)
    assert not not_worse("accuracy", 0.79, 0.80)
    assert not_worse("estimated_accuracy", 0.8, 0.7) and not not_worse("roc_auc", 0.6, 0.7)
    for lower_is_better in ("latency_p95", "rmse", "log_loss", "mae", "baseline_margin"):
        assert not_worse(lower_is_better, 658.6, 658.6)
        assert not_worse(lower_is_better, 1.0, 2.0) and not not_worse(lower_is_better, 2.0, 1.0)


def test_identical_latency_in_every_segment_gives_one_population_alert_naming_them(
    sqlite_engine, slack, fake_slack
):
    # the demo: latency is per model call, so every region's p95 is the population's
    same = {"latency_p95": 658.6}
    windows = hour(same, dict.fromkeys(REGIONS, same))
    (alert,) = decide_performance_alerts(windows, RULES, [])
    assert (alert.segment, alert.metric, alert.value) == (ALL, "latency_p95", 658.6)
    assert [b.segment for b in alert.also_breaching] == list(REGIONS)
    assert {(b.value, b.severity) for b in alert.also_breaching} == {(658.6, "warning")}
    # the next hours: the population's cooldown silences the folded segments with it
    later = hour(same, dict.fromkeys(REGIONS, same), 1) + hour(
        same, dict.fromkeys(REGIONS, same), 2
    )
    assert decide_performance_alerts(later, RULES, _history(alert)) == []

    (row,), (message,) = sent(sqlite_engine, [alert], fake_slack, slack)
    assert row["segment"] == ALL and not row["dedup_key"].endswith("west")
    assert row["payload"] == {
        "also_breaching": [{"segment": s, "value": 658.6, "severity": "warning"} for s in REGIONS]
    }
    names = ", ".join(REGIONS)
    window = f"{T0:%Y-%m-%d %H:%M}–{T0 + H:%H:%M} UTC"
    assert message["text"] == (
        f"Warning performance · m · {window}: latency_p95 658.6 above warning bound 500; "
        f"also in 4 segment(s), not worse: {names}"
    )
    assert row["reason"] == message["text"].split(": ", 1)[1]
    assert sections(message)[-2] == (
        "*Also breaching* (4 segment(s), latency_p95 not worse than the population): "
        + ", ".join(f"{s} 658.6 (warning)" for s in REGIONS)
    )


def _history(alert):
    return [LastPerformanceAlert("m", alert.metric, alert.severity, alert.window_start, ALL)]


def test_a_segment_worse_than_the_population_alerts_on_its_own(sqlite_engine, slack, fake_slack):
    windows = hour(
        {"accuracy": 0.74, "latency_p95": 658.6},
        {
            "region=south": {"accuracy": 0.69, "latency_p95": 658.6},  # accuracy worse: critical
            "region=west": {"accuracy": 0.745, "latency_p95": 700.0},  # latency worse
            "region=midwest": {"accuracy": 0.74, "latency_p95": 600.0},  # not worse in either
        },
    )
    decided = decide_performance_alerts(windows, RULES, [])
    by = {(a.segment, a.metric): a for a in decided}
    assert set(by) == {
        (ALL, "accuracy"), (ALL, "latency_p95"), (ALL, "baseline_margin"),
        ("region=south", "accuracy"), ("region=south", "baseline_margin"),
        ("region=west", "latency_p95"),
    }  # fmt: skip
    assert by["region=south", "accuracy"].severity == "critical"
    assert [b.segment for b in by[ALL, "accuracy"].also_breaching] == [
        "region=west", "region=midwest",
    ]  # fmt: skip
    assert [b.segment for b in by[ALL, "latency_p95"].also_breaching] == [
        "region=south", "region=midwest",
    ]  # fmt: skip
    # baseline shortfall 0.9 - 0.745 = 0.155 and 0.16 are not worse than the population's 0.16
    assert [b.segment for b in by[ALL, "baseline_margin"].also_breaching] == [
        "region=west", "region=midwest",
    ]  # fmt: skip

    rows, messages = sent(sqlite_engine, [by["region=west", "latency_p95"]], fake_slack, slack)
    assert rows[0]["dedup_key"].endswith("|latency_p95|warning|region=west")
    assert rows[0]["payload"] is None
    (message,) = messages
    assert message["text"].endswith(
        "latency_p95 in region=west 700 above warning bound 500 (population 658.6)"
    )
    assert not any(s.startswith("*Also breaching*") for s in sections(message))


def test_a_segment_breaching_while_the_population_is_fine_alerts_on_its_own():
    windows = hour(
        {"accuracy": 0.9, "rmse": 1.0},
        {
            "region=south": {"accuracy": 0.9, "rmse": 2.5},  # the population's 1.0 is fine
            "region=west": {"accuracy": 0.9, "rmse": 1.0},
        },
    )
    (alert,) = decide_performance_alerts(windows, RULES, [])
    assert (alert.segment, alert.metric, alert.value) == ("region=south", "rmse", 2.5)
    assert alert.also_breaching == ()
    assert alert.reason == (
        "rmse in region=south 2.5 above warning bound 2 (500 labelled rows; population 1)"
    )


def test_the_sensor_tick_folds_the_stored_segments_not_worse_than_the_population(
    tmp_path,
    world,  # noqa: F811
    sqlite_engine,
):
    # every row's latency is its own here, so some segments' p95 are above the population's
    cfg = config(tmp_path, performance_alerts={"thresholds": {"latency_p95": {"warning": 1.0}}})
    performance_windows(cfg, sqlite_engine, [("fraud", WORLD_T0)], now=WORLD_T0 + 10 * H)
    stored = read_window_segments(sqlite_engine, "fraud", WORLD_T0)
    p95 = {s: w.realized["latency_p95"] for s, w in stored.items() if "latency_p95" in w.realized}
    better = sorted(s for s in p95 if s != ALL and p95[s] <= p95[ALL])
    worse = sorted(s for s in p95 if p95[s] > p95[ALL])
    assert better and worse and len(better) + len(worse) + 1 == len(p95)

    new = windows_since(sqlite_engine, "model_performance", "hour", 0, 100)
    tick = enqueue_performance(sqlite_engine, cfg, new, {}, Sinks())
    assert sorted(a.segment for a in tick.alerts) == sorted([ALL, *worse])
    rows = {r["segment"]: r for r in outbox.select_rows(sqlite_engine, ids=tick.alert_ids)}
    also = rows[ALL]["payload"]["also_breaching"]
    assert sorted(b["segment"] for b in also) == better
    assert all(b["value"] == p95[b["segment"]] for b in also)
    assert all(rows[s]["payload"] is None for s in worse)
