"""Performance alerts per segment: the slice whose accuracy dropped alerts while the
population's does not; its dedup key, history and cooldown are its own; the Slack message
names the segment and shows the population's number beside its own."""

from __future__ import annotations

from datetime import timedelta

from monitoring_pipelines.alerts.cloudwatch import CloudWatchSettings, window_datums
from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import Sinks, SlackRouting
from monitoring_pipelines.alerts.performance import enqueue_performance
from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.stats.performance_alerts import (
    LastPerformanceAlert,
    PerformanceRules,
    WindowNumbers,
    decide_performance_alerts,
)
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.windows import windows_since
from tests.alerts.conftest import CHANNEL
from tests.pipeline.test_performance_segments import T0, H, config, world  # noqa: F401

RULES = {"thresholds": {"accuracy": {"warning": 0.6}}, "min_labelled_rows": 100}


def test_the_dropped_segment_alerts_alone_and_slack_names_it(
    tmp_path,
    world,  # noqa: F811
    sqlite_engine,
    slack,
    fake_slack,
):
    cfg = config(tmp_path, performance_alerts=RULES)
    summaries = performance_windows(
        cfg, sqlite_engine, [("fraud", T0), ("fraud", T0 + H)], now=T0 + 10 * H
    )
    population = summaries[0].performance.metrics["accuracy"]
    apac = summaries[0].segments["region=apac"].performance
    assert apac.metrics["accuracy"] < 0.6 < population
    new = windows_since(sqlite_engine, "model_performance", "hour", 0, 100)
    routing = {"fraud": SlackRouting(CHANNEL)}
    tick = enqueue_performance(sqlite_engine, cfg, new, routing, Sinks())
    # hour 0 alerts for apac only; hour 1's apac drop is within the segment's cooldown
    assert [(a.window_start, a.segment, a.metric) for a in tick.alerts] == [
        (T0, "region=apac", "accuracy")
    ]
    (row,) = outbox.select_rows(sqlite_engine, ids=tick.alert_ids)
    assert row["segment"] == "region=apac"
    assert row["dedup_key"] == (
        f"performance|fraud|hour|{T0.isoformat()}|accuracy|warning|region=apac"
    )
    again = enqueue_performance(sqlite_engine, cfg, new, routing, Sinks())
    assert again.alert_ids == ()

    deliver_pending(sqlite_engine, slack, None)
    (message,) = fake_slack.messages
    window = f"{T0:%Y-%m-%d %H:%M}–{T0 + H:%H:%M} UTC"
    assert message["text"] == (
        f"Warning performance · fraud · region=apac · {window}: accuracy in region=apac "
        f"{apac.metrics['accuracy']:.4g} below warning bound 0.6 ({apac.labelled_rows:,} "
        f"labelled rows; population {population:.4g})"
    )
    texts = [
        f["text"] for b in message["blocks"] if b["type"] == "section" for f in b.get("fields", [])
    ]
    assert "*Segment*\nregion=apac" in texts
    sections = [
        b["text"]["text"] for b in message["blocks"] if "text" in b and b["type"] == "section"
    ]
    lines = sections[1].split("\n")
    assert lines[0].startswith(f"*Performance* ({apac.labelled_rows:,} labelled): accuracy ")
    assert lines[-1].startswith(
        f"*Population* ({summaries[0].performance.labelled_rows:,} labelled): accuracy "
    )


def test_each_segment_has_its_own_cooldown():
    rules = {"m": PerformanceRules({"accuracy": {"warning": 0.8}}, min_labelled_rows=10,
                                   cooldown=timedelta(hours=6))}  # fmt: skip

    def hour(at: int, segment: str, accuracy: float = 0.5) -> WindowNumbers:
        start = T0 + at * H
        return WindowNumbers("m", start, start + H, {"accuracy": accuracy}, {}, 100,
                             segment=segment, population={"accuracy": 0.5})  # fmt: skip

    history = [LastPerformanceAlert("m", "accuracy", "warning", T0, ALL)]
    # eu worse than the population (not folded into its alert, see test_segment_alert_folding)
    windows = [hour(1, ALL), hour(1, "region=eu", 0.4), hour(2, "region=eu"), hour(2, "region=us")]
    decided = decide_performance_alerts(windows, rules, history)
    assert [(int((a.window_start - T0) / H), a.segment) for a in decided] == [
        (1, "region=eu"),  # the population's alert of hour 0 does not cool the segments down
        (2, "region=us"),  # eu's own of hour 1 does
    ]


def test_cloudwatch_gets_each_segments_performance_with_a_segment_dimension(
    tmp_path,
    world,  # noqa: F811
    sqlite_engine,
):
    cfg = config(tmp_path, performance_alerts=RULES)
    now = T0 + 100 * H  # past the labels' horizon: the hour's realized datums are final
    (summary,) = performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=now)
    new = windows_since(sqlite_engine, "model_performance", "hour", 0, 100)
    tick = enqueue_performance(sqlite_engine, cfg, new, {}, Sinks())
    (row,) = outbox.select_rows(sqlite_engine, ids=tick.metrics_ids)
    datums = window_datums("fraud", T0, row["cloudwatch"], CloudWatchSettings())
    by = {
        (d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"][1:])): d
        for d in datums
    }
    apac = summary.segments["region=apac"].performance
    assert by[("accuracy", ())]["Value"] == summary.performance.metrics["accuracy"]
    assert by[("accuracy", (("Segment", "region=apac"),))]["Value"] == apac.metrics["accuracy"]
    assert by[("labelled_rows", (("Segment", "region=apac"),))]["Value"] == apac.labelled_rows
    latam = summary.segments["region=latam"].performance
    assert ("accuracy", (("Segment", "region=latam"),)) not in by  # insufficient_data
    assert by[("labelled_rows", (("Segment", "region=latam"),))]["Value"] == latam.labelled_rows
    tagged = {dict((x["Name"], x["Value"]) for x in d["Dimensions"]).get("Segment") for d in datums}
    assert tagged == {None, *summary.segments}  # the population untagged, every segment tagged
