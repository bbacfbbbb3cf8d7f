"""Issue 14, item 5: missing data is a signal. An hour with no file, a file with 0 rows or far
fewer rows than usual used to succeed quietly (0 rows, every metric insufficient_data, every
check passed, nothing alerted); it now fails a ``data_freshness`` check of its own hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import Sinks, SlackRouting, enqueue_drift
from monitoring_pipelines.config import ConfigError, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key, hourly_partitions
from monitoring_pipelines.defs.sensors.drift_threshold import drift_records
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.stats.alert_policy import AlertSettings
from monitoring_pipelines.stats.freshness import (
    FRESH,
    LOW_VOLUME,
    NO_DATA,
    FreshnessPolicy,
    expected_rows,
    judge_freshness,
)
from monitoring_pipelines.stats.no_data_policy import QuietHour, decide_no_data
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine

# recent hours, as CloudWatch takes no datums older than two weeks
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=12)
H = timedelta(hours=1)
DEPLOYMENT = "quiet_model"
# rows per hour; None: no file at all. Hour 5 has a file with 0 rows, hour 6 a trickle.
ROWS = {0: 900, 1: 1000, 2: 1100, 3: 1000, 4: None, 5: 0, 6: 40}


def test_usual_volume_is_the_median_of_the_same_hour_else_of_recent_hours() -> None:
    at_nine = datetime(2026, 11, 9, 9, tzinfo=UTC)
    history = {at_nine - timedelta(days=d): n for d, n in [(1, 500), (2, 700), (3, 600)]}
    history[at_nine - timedelta(days=4)] = 0  # an outage is not the usual volume
    history[at_nine - 2 * H] = 5000  # another hour of day: not used while 3 same-hour exist
    assert expected_rows(history, at_nine) == 600.0
    del history[at_nine - timedelta(days=3)]
    assert expected_rows(history, at_nine) == 700.0  # median of 500, 700, 5000
    assert expected_rows({at_nine - timedelta(days=8): 100}, at_nine) is None  # too old
    assert expected_rows(history, at_nine - timedelta(days=3)) is None  # nothing before it


def test_statuses_and_their_reasons() -> None:
    assert judge_freshness(0, None, has_files=False).reason == "no log file for the hour"
    assert judge_freshness(0, 600.0).status == NO_DATA
    low = judge_freshness(59, 600.0)
    assert (low.status, low.reason) == (LOW_VOLUME, "59 rows, below 10% of the usual 600")
    assert judge_freshness(60, 600.0).status == FRESH  # 10% exactly is not below
    assert judge_freshness(3, None).status == FRESH  # no history: volume cannot be judged
    strict = FreshnessPolicy(min_fraction=0.5)
    low = judge_freshness(290, 600.0, policy=strict)
    assert (low.status, low.reason) == (LOW_VOLUME, "290 rows, below 50% of the usual 600")
    for bad, field in [({"min_fraction": 1.5}, "min_fraction"), ({"history_days": 0}, "history")]:
        with pytest.raises(ValueError, match=rf"{field}.* got"):
            FreshnessPolicy(**bad)


def test_usual_volume_follows_the_policy() -> None:
    at_nine = datetime(2026, 11, 9, 9, tzinfo=UTC)
    history = {at_nine - timedelta(days=d): 100 * d for d in (1, 2, 10)}
    history |= {at_nine - H: 5000, at_nine - 2 * H: 6000}
    # 7 days: 2 same hours (< 3), so every hour of them: median of 100, 200, 5000, 6000
    assert expected_rows(history, at_nine) == 2600.0
    assert expected_rows(history, at_nine, FreshnessPolicy(min_same_hour=2)) == 150.0
    # 14 days reach the 1000 of day 10: 3 same hours, median 200
    assert expected_rows(history, at_nine, FreshnessPolicy(history_days=14)) == 200.0


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{min_fraction: 1.5}", r"freshness\.min_fraction"),
        ("{min_fraction: .nan}", r"freshness\.min_fraction"),
        ("{min_fraction: true}", r"freshness\.min_fraction"),
        ("{history_days: 0}", r"freshness\.history_days"),
        ("{min_same_hour: 8}", r"min_same_hour \(8\) cannot exceed history_days \(7\)"),
        ("{min_fractoin: 0.2}", r"freshness\.min_fractoin"),
    ],
)
def test_a_freshness_block_that_cannot_work_is_refused_naming_the_field(
    quiet_hours, block, message
) -> None:
    document = yaml.safe_load(quiet_hours.read_text())
    document["deployments"][0]["freshness"] = yaml.safe_load(block)
    quiet_hours.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=message):
        load_config(quiet_hours)


def _frame(rng: np.random.Generator, hour: datetime, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n),
            "segment": rng.choice(["retail", "sme"], n),
            "scored_at": hour + pd.to_timedelta(rng.uniform(0, 3599, n), unit="s"),
        }
    )


@pytest.fixture
def quiet_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rng = np.random.default_rng(6)
    root = tmp_path / "data"
    root.mkdir()
    _frame(rng, START, 3000).drop(columns="scored_at").to_parquet(root / "reference.parquet")
    for h, n in ROWS.items():
        if n is None:
            continue
        hour = START + h * H
        folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True)
        _frame(rng, hour, n).to_parquet(folder / "part-00000.parquet")
    config = {
        "deployments": [
            {
                "id": DEPLOYMENT,
                "reference": {"path": "data/reference.parquet"},
                "logs": {"type": "parquet", "path": "data/logs", "timestamp_column": "scored_at"},
                "start": START.isoformat(),
                "columns": [
                    {"name": "scored_at", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "segment", "type": "categorical"},
                ],
            }
        ],
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{tmp_path / 'monitoring.db'}")
    monkeypatch.setenv("MONITORS_CONFIG", str(path))
    return path


def test_each_quiet_hour_fails_its_own_freshness_check(quiet_hours, dagster_instance) -> None:
    config = load_config(quiet_hours)
    defs = build_definitions(config, str(quiet_hours))
    instance = dagster_instance
    baseline = defs.resolve_job_def(BASELINE_JOB)
    assert baseline.execute_in_process(partition_key=DEPLOYMENT, instance=instance).success
    keys = {h: str(hour_key(DEPLOYMENT, START + h * H)) for h in ROWS}
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[max(ROWS)],
        },
    )
    assert result.success

    check = dg.AssetCheckKey(dg.AssetKey("hourly_aggregates"), "data_freshness")
    evaluations = {
        e.partition: e
        for e in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
        if e.asset_check_key == check
    }
    assert set(evaluations) == set(keys.values())
    described = {h: evaluations[keys[h]].description for h in ROWS}
    assert described == {
        0: "fresh: 900 rows",
        1: "fresh: 1000 rows",
        2: "fresh: 1100 rows",
        3: "fresh: 1000 rows",
        4: "no_data: no log file for the hour",
        5: "no_data: 0 rows in the hour",
        6: "low_volume: 40 rows, below 10% of the usual 1000",  # median of 900..1100
    }
    assert [evaluations[keys[h]].passed for h in ROWS] == [True] * 4 + [False] * 3

    # the UI's per-partition status, and the hour's metadata
    state = instance.event_log_storage.get_asset_check_state([(check, hourly_partitions(config))])[
        check
    ]
    failed = {
        partition
        for status, subset in state.subsets.items()
        if status.value == "FAILED"
        for partition in subset.subset_value.get_partition_keys()
        if partition.startswith(f"{DEPLOYMENT}|")
    }
    assert failed == {keys[4], keys[5], keys[6]}
    records = instance.fetch_materializations(dg.AssetKey("hourly_aggregates"), limit=1000)
    statuses = {
        r.partition_key: r.asset_materialization.metadata["data_freshness"].value
        for r in records.records
        if r.partition_key.startswith(f"{DEPLOYMENT}|")
    }
    assert statuses[keys[4]] == "no_data" and statuses[keys[6]] == "low_volume"
    assert statuses[keys[0]] == "fresh"


def test_cooldown_holds_back_quiet_hours_in_window_time() -> None:
    quiet = [
        QuietHour("m", START + h * H, START + (h + 1) * H, judge_freshness(0, 500.0))
        for h in (4, 5, 6, 7)
    ]
    alerted, held = decide_no_data(quiet, {}, {"m": timedelta(minutes=90)})
    assert [(h.window_start - START) // H for h in alerted] == [4, 6]
    assert [(h.window_start - START) // H for h in held] == [5, 7]
    # a replay or a backfill of hours before the last alert never alerts again
    again, _ = decide_no_data(quiet, {"m": START + 6 * H}, {"m": timedelta(0)})
    assert [(h.window_start - START) // H for h in again] == [7]


def _datums(reader, namespace: str, name: str) -> dict[int, float]:
    stats = reader.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "ModelName", "Value": DEPLOYMENT}],
        StartTime=START - H,
        EndTime=START + 8 * H,
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    return {(d["Timestamp"] - START) // H: d["Maximum"] for d in stats}


def test_quiet_hours_alert_in_slack_and_cloudwatch_with_their_own_cooldown(
    quiet_hours, slack, fake_slack, cloudwatch, cloudwatch_reader
) -> None:
    config = load_config(quiet_hours)
    engine = get_engine()
    compute_baseline(config, config.deployment(DEPLOYMENT), engine)
    windows = [(DEPLOYMENT, START + h * H) for h in ROWS]
    aggregate_windows(config, engine, windows)
    score_windows(config, engine, windows)
    rows = read_drift_scores(engine, DEPLOYMENT, START, START + 24 * H, "hour")
    records, rows_scored = drift_records(rows)
    # drift alerts keep their 6-hour cooldown; quiet hours get 90 minutes of their own
    settings = {DEPLOYMENT: AlertSettings.from_mapping({"no_data_cooldown_minutes": 90})}
    routing = {DEPLOYMENT: SlackRouting("C0QUIET01")}
    tick = enqueue_drift(engine, records, settings, routing, rows_scored, sinks=Sinks())
    assert [((h.window_start - START) // H, h.freshness.status) for h in tick.quiet] == [
        (4, "no_data"),
        (6, "low_volume"),  # hour 5 (no_data too) came 60 minutes after the alert of hour 4
    ]
    assert tick.deliverable == len(tick.metrics_ids) + 2
    replay = enqueue_drift(engine, records, settings, routing, rows_scored, sinks=Sinks())
    assert (replay.alert_ids, replay.metrics_ids, replay.quiet) == ((), (), ())

    report = deliver_pending(engine, slack, cloudwatch)
    assert report.count("slack", "sent") == 2
    window = lambda h: f"{START + h * H:%Y-%m-%d %H:%M}–{START + (h + 1) * H:%H:%M} UTC"  # noqa: E731
    assert [(m["channel"], m["text"]) for m in fake_slack.messages] == [
        # the sensor judges from the store, which kept that the hour had no file at all
        ("C0QUIET01", f"No data · {DEPLOYMENT} · {window(4)}: no log file for the hour"),
        (
            "C0QUIET01",
            f"Low volume · {DEPLOYMENT} · {window(6)}: 40 rows, below 10% of the usual 1000",
        ),
    ]
    listed = sorted(outbox.select_rows(engine, kinds=["no_data"]), key=lambda r: r["id"])
    assert [(r["status"], r["value"], r["threshold"]) for r in listed] == [
        ("no_data", 0.0, 1000.0),
        ("low_volume", 40.0, 1000.0),
    ]

    namespace = cloudwatch.settings.namespace
    assert _datums(cloudwatch_reader, namespace, "no_data") == {h: float(h >= 4) for h in ROWS}
    assert _datums(cloudwatch_reader, namespace, "rows_scored") == {
        h: float(n or 0) for h, n in ROWS.items()
    }


def test_a_configured_min_fraction_moves_the_line_for_the_check_and_the_alert(
    quiet_hours,
) -> None:
    document = yaml.safe_load(quiet_hours.read_text())
    document["deployments"][0]["freshness"] = {"min_fraction": 0.03}  # hour 6 has 4%
    quiet_hours.write_text(yaml.safe_dump(document))
    config = load_config(quiet_hours)
    engine = get_engine()
    compute_baseline(config, config.deployment(DEPLOYMENT), engine)
    windows = [(DEPLOYMENT, START + h * H) for h in ROWS]
    summaries = aggregate_windows(config, engine, windows)
    assert [s.freshness.status for s in summaries] == [FRESH] * 4 + [NO_DATA, NO_DATA, FRESH]
    score_windows(config, engine, windows)
    rows = read_drift_scores(engine, DEPLOYMENT, START, START + 24 * H, "hour")
    records, rows_scored = drift_records(rows)
    policy = {DEPLOYMENT: config.freshness_policy(config.deployment(DEPLOYMENT))}
    tick = enqueue_drift(engine, records, {}, {}, rows_scored, sinks=Sinks(), freshness=policy)
    assert [((h.window_start - START) // H, h.freshness.status) for h in tick.quiet] == [
        (4, "no_data")  # hour 5 is within the default 6-hour cooldown; hour 6 is fresh now
    ]
