"""`monitoring-pipelines demo`: generate a deployment, then materialize it through Dagster.

The baseline and every hour are materialized in-process against the persistent
instance in ``$DAGSTER_HOME``, so ``dagster dev`` afterwards shows the partitions.
With ``kafka``, the deployment's traffic goes through a local Kafka broker instead (tansu,
in memory, stopped when the demo ends) and the hours are read back from its topic.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import dagster as dg
import yaml

from monitoring_pipelines.alerts.listing import format_alerts
from monitoring_pipelines.config import MonitorsConfig, config_path, load_config
from monitoring_pipelines.defs.assets.aggregates import ASSET as HOURLY_ASSET
from monitoring_pipelines.defs.assets.drift import ASSET as DRIFT_ASSET
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.sensors.drift_threshold import SENSOR_NAME as DRIFT_SENSOR
from monitoring_pipelines.demo.broker import LocalBroker, create_topic
from monitoring_pipelines.demo.generate import generate_demo
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.alerts import list_recent
from monitoring_pipelines.store.cleanup import clear_outside
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import dagster_home, get_engine
from monitoring_pipelines.store.performance import StoredWindow, stored_windows, window_values
from monitoring_pipelines.traffic import Sink, sink_for

DEMO_DEPLOYMENT = "credit_risk"
HOUR = timedelta(hours=1)
ALERTS_SHOWN = 20
KAFKA_ENV = "MONITORING_DEMO_KAFKA_BOOTSTRAP_SERVERS"
KAFKA_TOPIC = "credit-risk-scoring"


@dataclass(frozen=True)
class DemoSettings:
    hours: int = 72
    drift_from_hour: int = 48
    rows_per_hour: int = 2000
    reference_rows: int = 20_000
    seed: int = 0
    end: datetime | None = None
    kafka: bool = False


def last_complete_hour_end(now: datetime | None = None) -> datetime:
    """The start of the current hour: the end of the last complete one."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def run_demo(settings: DemoSettings, out: TextIO = sys.stdout) -> DemoResult:
    """Generate the demo data and materialize baseline and hours; return what was done."""
    end = settings.end or last_complete_hour_end()
    first = end - settings.hours * HOUR
    with ExitStack() as stack:
        sink = None
        path = config_path()
        if settings.kafka:
            broker = stack.enter_context(LocalBroker())
            create_topic(broker.bootstrap_servers, KAFKA_TOPIC)
            os.environ[KAFKA_ENV] = broker.bootstrap_servers
            path = kafka_config(load_config(path), dagster_home() / "demo", first)
            sink = sink_for(load_config(path).deployment(DEMO_DEPLOYMENT))
            print(
                f"[0/4] a local Kafka broker (tansu, in memory) at {broker.bootstrap_servers}: "
                f"{DEMO_DEPLOYMENT} logs to topic {KAFKA_TOPIC!r} and is read back from it "
                f"({path})",
                file=out,
            )
        return _run(settings, path, sink, out, first, end)


def kafka_config(config: MonitorsConfig, folder: Path, first: datetime) -> Path:
    """A copy of ``config`` whose demo deployment reads its logs from the demo's topic, from
    ``first`` on when the file leaves ``start`` to the data (a topic is not read at load)."""
    data = config.model_dump(mode="json")
    for deployment in data["deployments"]:
        if deployment["id"] == DEMO_DEPLOYMENT:
            if config.deployment(DEMO_DEPLOYMENT).start_from != "config":
                deployment["start"] = first.isoformat()
            timestamp = deployment["logs"].get("timestamp_column", "timestamp")
            deployment["logs"] = {
                "type": "kafka",
                "bootstrap_servers_env": KAFKA_ENV,
                "topic": KAFKA_TOPIC,
                "timestamp_column": timestamp,
            }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "monitors.kafka.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(
    settings: DemoSettings,
    path: Path,
    sink: Sink | None,
    out: TextIO,
    first: datetime,
    end: datetime,
) -> DemoResult:
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = load_config(path)
    try:
        deployment = config.deployment(DEMO_DEPLOYMENT)
    except KeyError:
        raise SystemExit(f"the demo needs a deployment {DEMO_DEPLOYMENT!r} in {path}") from None
    if deployment.start_from == "config" and first < deployment.start:
        raise SystemExit(
            f"the demo's first hour {first:%Y-%m-%d %H:%M} is before {DEMO_DEPLOYMENT}.start "
            f"({deployment.start:%Y-%m-%d %H:%M}) in {path}: move start earlier"
        )

    root = deployment.reference.path.parent
    print(f"[1/4] generating {settings.hours} hours of scoring logs under {root}", file=out)
    demo = generate_demo(
        root,
        end,
        hours=settings.hours,
        drift_from_hour=settings.drift_from_hour,
        rows_per_hour=settings.rows_per_hour,
        reference_rows=settings.reference_rows,
        seed=settings.seed,
        sink=sink,
    )

    config = load_config(path)  # a start left to the data now begins with the new logs
    defs = build_definitions(config, str(path))
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    with dg.DagsterInstance.get() as instance:
        forget_replaced_hours(instance, first, end)
        print(f"[2/4] materializing baseline_statistics for {DEMO_DEPLOYMENT}", file=out)
        defs.resolve_job_def(BASELINE_JOB).execute_in_process(
            partition_key=DEMO_DEPLOYMENT, instance=instance, run_config=quiet
        )
        print(
            f"[3/4] backfilling {settings.hours} hours {first:%Y-%m-%d %H:%M} → "
            f"{end:%Y-%m-%d %H:%M} UTC as one run",
            file=out,
        )
        defs.resolve_job_def(HOURLY_JOB).execute_in_process(
            instance=instance,
            run_config=quiet,
            tags={
                "dagster/asset_partition_range_start": str(hour_key(DEMO_DEPLOYMENT, first)),
                "dagster/asset_partition_range_end": str(hour_key(DEMO_DEPLOYMENT, end - HOUR)),
            },
        )
        print("[4/4] judging the new drift scores with drift_threshold_sensor", file=out)
        sensor = defs.resolve_sensor_def(DRIFT_SENSOR)
        cursor = None
        while True:  # one tick per batch, as the daemon would, until nothing is new
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=defs.resources
            ) as context:
                tick = sensor(context)
            if not tick.cursor or tick.cursor == cursor:
                break
            cursor = tick.cursor

    engine = get_engine()
    baseline = read_baseline(engine, DEMO_DEPLOYMENT)
    windows = read_windows(engine, DEMO_DEPLOYMENT, first, end, baseline)
    hourly_drift = drifted_by_hour(read_drift_scores(engine, DEMO_DEPLOYMENT, first, end, "hour"))
    print(hourly_table(windows, hourly_drift), file=out)
    print(
        performance_table(
            stored_windows(engine, DEMO_DEPLOYMENT, first, end),
            window_values(engine, DEMO_DEPLOYMENT, first, end),
        ),
        file=out,
    )
    onset = first_drift(hourly_drift)
    if onset:
        print("\ndrifted columns (first drifted hour):", file=out)
        for column, hour in onset.items():
            print(f"  {column:<20} {hour:%Y-%m-%d %H:%M}", file=out)
    else:
        print("\nno column drifted", file=out)
    alone = [hour for hour, columns in hourly_drift.items() if columns == [MULTIVARIATE]]
    if alone:
        shown = ", ".join(f"{hour:%H:%M}" for hour in alone)
        print(
            f"\nmultivariate drift alone ({MULTIVARIATE}: loan_amount shuffled within the hour, "
            f"every column's distribution unchanged, no column drifted): {shown}",
            file=out,
        )
    print("\nalerts (monitoring-pipelines alerts):", file=out)
    alerts = [row for row in list_recent(engine, limit=1000) if row["kind"] != "metrics"]
    print(format_alerts(alerts[:ALERTS_SHOWN]), file=out)
    print(
        "(without SLACK_BOT_TOKEN they are recorded as skipped: set it and run "
        "`monitoring-pipelines redeliver --status skipped`, or start drift_threshold_sensor "
        "for new hours; see README 'Alerts')",
        file=out,
    )
    print(
        f"\n{len(windows)} hours materialized. Open the UI with `make dev` "
        f"(DAGSTER_HOME={home}) and browse http://127.0.0.1:3000/assets",
        file=out,
    )
    return DemoResult(demo, first, end, windows, hourly_drift, onset)


def forget_replaced_hours(instance: dg.DagsterInstance, first: datetime, end: datetime) -> None:
    """A re-run replaced the previous demo's logs: drop its store rows, pending alerts and
    materialized partitions of hours outside ``[first, end)``, which no log backs any more."""
    clear_outside(get_engine(), DEMO_DEPLOYMENT, first, end)
    kept = {str(hour_key(DEMO_DEPLOYMENT, first + i * HOUR)) for i in range((end - first) // HOUR)}
    for asset in (HOURLY_ASSET, DRIFT_ASSET):
        key = dg.AssetKey(asset)
        stale = [
            p
            for p in instance.get_materialized_partitions(key)
            if p.startswith(f"{DEMO_DEPLOYMENT}|") and p not in kept
        ]
        if stale:
            instance.wipe_asset_partitions(key, stale)


@dataclass(frozen=True)
class DemoResult:
    """What the demo generated and what the pipeline found."""

    data: object
    first: datetime
    end: datetime
    windows: dict
    drifted: dict[datetime, list[str]]
    onset: dict[str, datetime]


def drifted_by_hour(rows: list[dict]) -> dict[datetime, list[str]]:
    """Hour start → the columns with at least one drifted metric, from drift_scores rows."""
    hours: dict[datetime, set[str]] = {}
    for row in rows:
        columns = hours.setdefault(row["window_start"], set())
        if row["drifted"]:
            columns.add(row["column_name"])
    return {hour: sorted(columns) for hour, columns in sorted(hours.items())}


def first_drift(drifted: dict[datetime, list[str]]) -> dict[str, datetime]:
    """Each drifted column with the first hour it drifted."""
    onset: dict[str, datetime] = {}
    for hour, columns in drifted.items():
        for column in columns:
            onset.setdefault(column, hour)
    return dict(sorted(onset.items(), key=lambda item: (item[1], item[0])))


def hourly_table(windows: dict, drifted: dict[datetime, list[str]]) -> str:
    lines = ["", "hour (UTC)          rows  missing  drifted columns"]
    for start, profile in windows.items():
        missing = sum(profile.missing_counts.values())
        columns = ", ".join(drifted.get(start, [])) or "-"
        lines.append(f"{start:%Y-%m-%d %H:%M}  {profile.row_count:>6}  {missing:>7}  {columns}")
    return "\n".join(lines)


def performance_table(
    stored: dict[datetime, StoredWindow], values: Iterable[tuple[datetime, str, float]]
) -> str:
    """Realized accuracy, F1, ROC AUC and latency p95 by hour, with the labelled share."""
    by_hour: dict[datetime, dict[str, float]] = {}
    for start, metric, value in values:
        by_hour.setdefault(start, {})[metric] = value
    lines = [
        "",
        "model performance on the labels arrived so far (model_performance):",
        "hour (UTC)        labelled  accuracy      f1  roc_auc  latency p95 ms",
    ]

    def cell(value: float | None, width: int) -> str:
        return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"

    for start, window in stored.items():
        m = by_hour.get(start, {})
        share = f"{window.n_labelled}/{window.n_scored}"
        lines.append(
            f"{start:%Y-%m-%d %H:%M}  {share:>10}  {cell(m.get('accuracy'), 8)}  "
            f"{cell(m.get('f1'), 6)}  {cell(m.get('roc_auc'), 7)}  "
            f"{cell(m.get('latency_p95'), 14)}"
        )
    return "\n".join(lines)
