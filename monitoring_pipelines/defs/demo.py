"""`monitoring-pipelines demo`: generate a deployment, then materialize it through Dagster.

The baseline and every hour are materialized in-process against the persistent
instance in ``$DAGSTER_HOME``, so ``dagster dev`` afterwards shows the partitions.
With ``kafka``, the deployment's traffic goes through a local Kafka broker instead (tansu,
in memory, stopped when the demo ends) and the hours are read back from its topic.
"""

from __future__ import annotations

import math
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
from sqlalchemy import select

from monitoring_pipelines.alerts.listing import format_alerts
from monitoring_pipelines.config import CONFIG_ENV, MonitorsConfig, config_path, load_config
from monitoring_pipelines.defs.assets.aggregates import ASSET as HOURLY_ASSET
from monitoring_pipelines.defs.assets.drift import ASSET as DRIFT_ASSET
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.retraining import JOB_NAME as RETRAINING_JOB
from monitoring_pipelines.defs.retraining import SENSOR_NAME as RETRAINING_SENSOR
from monitoring_pipelines.defs.sensors.drift_threshold import SENSOR_NAME as DRIFT_SENSOR
from monitoring_pipelines.defs.sensors.performance import SENSOR_NAME as PERFORMANCE_SENSOR
from monitoring_pipelines.demo.broker import LocalBroker, create_topic
from monitoring_pipelines.demo.generate import generate_demo, regional_hours
from monitoring_pipelines.demo.retrain import deploy_model, model_file
from monitoring_pipelines.pipeline.performance_rollups import rolled_up
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.alerts import list_recent
from monitoring_pipelines.store.cleanup import clear_outside, clear_versions
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import dagster_home, get_engine
from monitoring_pipelines.store.performance import (
    ESTIMATED,
    StoredWindow,
    baseline_versions,
    read_baseline_performance,
    stored_windows,
    window_values,
)
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc
from monitoring_pipelines.traffic import Sink, sink_for

DEMO_DEPLOYMENT = "credit_risk"
HOUR = timedelta(hours=1)
ALERTS_SHOWN = 20
KAFKA_ENV = "MONITORING_DEMO_KAFKA_BOOTSTRAP_SERVERS"
KAFKA_TOPIC = "credit-risk-scoring"
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass(frozen=True)
class DemoSettings:
    hours: int = 72
    drift_from_hour: int = 48
    rows_per_hour: int = 2000
    reference_rows: int = 20_000
    seed: int = 0
    end: datetime | None = None
    kafka: bool = False
    retrain: bool = True  # pause after the drift to run the requested retraining


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
                f"[0/6] a local Kafka broker (tansu, in memory) at {broker.bootstrap_servers}: "
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
    os.environ[CONFIG_ENV] = str(path)  # the retraining callable reads the demo's config
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
    print(f"[1/6] generating {settings.hours} hours of scoring logs under {root}", file=out)
    demo = generate_demo(
        root,
        end,
        hours=settings.hours,
        drift_from_hour=settings.drift_from_hour,
        rows_per_hour=settings.rows_per_hour,
        reference_rows=settings.reference_rows,
        seed=settings.seed,
        sink=sink,
        regional_hours=regional_hours(first, settings.hours, settings.drift_from_hour),
    )

    config = load_config(path)  # a start left to the data now begins with the new logs
    defs = build_definitions(config, str(path))
    retraining_answers: list[dict] = []
    split = retraining_hour(settings)
    with dg.DagsterInstance.get() as instance:
        forget_replaced_hours(instance, first, end)
        # a fresh run: its two phases judge the later hours against a retrained baseline, so
        # no window, alert, baseline version or decision of a previous run may linger
        clear_outside(get_engine(), DEMO_DEPLOYMENT, end, end)
        clear_versions(get_engine(), DEMO_DEPLOYMENT)
        print(
            f"[2/6] materializing baseline_statistics for {DEMO_DEPLOYMENT} (training reference; "
            "performance on the held-out validation set)",
            file=out,
        )
        defs.resolve_job_def(BASELINE_JOB).execute_in_process(
            partition_key=DEMO_DEPLOYMENT, instance=instance, run_config=QUIET
        )
        middle = first + split * HOUR
        print(
            f"[3/6] backfilling {split} hours {first:%Y-%m-%d %H:%M} → {middle:%Y-%m-%d %H:%M} "
            "UTC as one run",
            file=out,
        )
        backfill(defs, instance, first, middle)
        print(
            "[4/6] judging them: drift_threshold_sensor, model_performance_sensor, "
            "retraining_sensor",
            file=out,
        )
        cursors: dict[str, str | None] = {}
        retraining = judge(defs, instance, cursors)
        for request in retraining if settings.retrain else ():
            run = defs.resolve_job_def(RETRAINING_JOB).execute_in_process(
                instance=instance, run_config=request.run_config, tags=request.tags
            )
            retraining_answers.append(run.output_for_node("retrain"))
        version = next((a["answer"].get("model_version") for a in retraining_answers), None)
        if version and split < settings.hours and not settings.kafka:
            model = model_file(deployment.reference.path, version)
            rows = deploy_model(demo.logs_path, model, middle)
            print(f"      model v{version} now serves: {rows} later requests re-scored", file=out)
        if split < settings.hours:
            print(
                f"[5/6] backfilling the {settings.hours - split} hours after the decision, "
                f"{middle:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC (judged against the "
                "latest baseline version)",
                file=out,
            )
            backfill(defs, instance, middle, end)
        print("[6/6] judging them (a second retraining request waits for the cooldown)", file=out)
        retraining += judge(defs, instance, cursors)

    engine = get_engine()
    baseline = read_baseline(engine, DEMO_DEPLOYMENT)
    windows = read_windows(engine, DEMO_DEPLOYMENT, first, end, baseline)
    hourly_rows = read_drift_scores(engine, DEMO_DEPLOYMENT, first, end, "hour")
    hourly_drift = drifted_by_hour(hourly_rows)
    print(hourly_table(windows, hourly_drift), file=out)
    print(
        performance_table(
            stored_windows(engine, DEMO_DEPLOYMENT, first, end),
            window_values(engine, DEMO_DEPLOYMENT, first, end),
            estimated_by_hour(engine, DEMO_DEPLOYMENT, first, end),
        ),
        file=out,
    )
    print(rollup_table(engine, config.deployment(DEMO_DEPLOYMENT), first, end), file=out)
    onset = first_drift(hourly_drift)
    if onset:
        print("\ndrifted columns (first drifted hour):", file=out)
        for column, hour in onset.items():
            print(f"  {column:<20} {hour:%Y-%m-%d %H:%M}", file=out)
    else:
        print("\nno column drifted", file=out)
    decisions = [r for r in list_recent(engine, limit=1000) if r["kind"] == "retraining"]
    versions = baseline_versions(engine, DEMO_DEPLOYMENT)
    print(retraining_text(decisions, retraining, retraining_answers, versions, engine), file=out)
    alone = [hour for hour, columns in hourly_drift.items() if columns == [MULTIVARIATE]]
    if alone:
        shown = ", ".join(f"{hour:%H:%M}" for hour in alone)
        print(
            f"\nmultivariate drift alone ({MULTIVARIATE}: loan_amount shuffled within the hour, "
            f"every column's distribution unchanged, no column drifted): {shown}",
            file=out,
        )
    alerts = [row for row in list_recent(engine, limit=1000) if row["kind"] != "metrics"]
    hidden = hidden_segment_drift(alerts, hourly_rows)
    if hidden:
        print(hidden, file=out)
    print("\nalerts (monitoring-pipelines alerts):", file=out)
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
    return DemoResult(
        demo, first, end, windows, hourly_drift, onset, tuple(retraining), tuple(versions), split
    )


def retraining_hour(settings: DemoSettings) -> int:
    """The hour index the demo pauses at to judge (and retrain): halfway through the drift;
    without ``retrain`` (or drift) it does not pause."""
    if not settings.retrain or settings.drift_from_hour >= settings.hours:
        return settings.hours
    return settings.drift_from_hour + max(1, (settings.hours - settings.drift_from_hour) // 2)


def backfill(defs: dg.Definitions, instance: dg.DagsterInstance, start, end) -> None:
    """Materialize the hourly job over ``[start, end)`` as one run."""
    defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": str(hour_key(DEMO_DEPLOYMENT, start)),
            "dagster/asset_partition_range_end": str(hour_key(DEMO_DEPLOYMENT, end - HOUR)),
        },
    )


def judge(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursors: dict[str, str | None]
) -> list[dg.RunRequest]:
    """Tick the judging sensors as the daemon would, one batch per tick until nothing is new;
    return the retraining runs requested (delivery runs are left to a configured channel)."""
    requested = []
    for name in (DRIFT_SENSOR, PERFORMANCE_SENSOR, RETRAINING_SENSOR):
        sensor = defs.resolve_sensor_def(name)
        while True:
            with dg.build_sensor_context(
                instance=instance, cursor=cursors.get(name), resources=defs.resources
            ) as context:
                tick = sensor(context)
            requested += [r for r in tick.run_requests or [] if r.job_name == RETRAINING_JOB]
            if not tick.cursor or tick.cursor == cursors.get(name):
                break
            cursors[name] = tick.cursor
    return requested


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
    retraining: tuple[dg.RunRequest, ...] = ()
    baseline_versions: tuple[datetime, ...] = ()
    split: int = 0


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


def hidden_segment_drift(alerts: list[dict], population: list[dict]) -> str:
    """The segments' hourly drift alerts on a column the population raised nothing for in that
    hour, each metric beside the population's value: the slice that broke, which the overall
    numbers hide (the demo's regional hour: the northeast's income alone up 20 %)."""
    overall = {(r["window_start"], r["column_name"], r["metric"]): r for r in population}
    alerted = {(r["window_start"], r["column_name"]) for r in population if r["drifted"]}
    lines: dict[tuple, list[str]] = {}
    for row in sorted(alerts, key=lambda r: r["id"]):
        key = (row["window_start"], row["segment"], row["column_name"])
        if (
            row["kind"] != "drift"
            or row["granularity"] != "hour"
            or row["segment"] in (None, ALL)
            or key[::2] in alerted
        ):
            continue
        same = overall.get((row["window_start"], row["column_name"], row["metric"]))
        beside = "" if same is None else f" (population {same['value']:.3g} {same['status']})"
        lines.setdefault(key, []).append(
            f"{row['metric']} {row['value']:.3g} vs {row['threshold']:.3g}{beside}"
        )
    if not lines:
        return ""
    shown = [
        f"  {hour:%Y-%m-%d %H:%M}  {segment}  {column}: {', '.join(parts)}"
        for (hour, segment, column), parts in lines.items()
    ]
    head = "\nsegment drift the population hides (alerted for the segment only):"
    return "\n".join([head, *shown])


def hourly_table(windows: dict, drifted: dict[datetime, list[str]]) -> str:
    lines = ["", "hour (UTC)          rows  missing  drifted columns"]
    for start, profile in windows.items():
        missing = sum(profile.missing_counts.values())
        columns = ", ".join(drifted.get(start, [])) or "-"
        lines.append(f"{start:%Y-%m-%d %H:%M}  {profile.row_count:>6}  {missing:>7}  {columns}")
    return "\n".join(lines)


def estimated_by_hour(
    engine, deployment_id: str, start: datetime, end: datetime
) -> dict[datetime, tuple[float, float]]:
    """Hour → (CBPE estimated accuracy, the per-row standard deviation of its band)."""
    table = model_performance.c
    query = select(table.window_start, table.value, table.details).where(
        table.deployment_id == deployment_id,
        table.segment == ALL,
        table.kind == ESTIMATED,
        table.metric == "accuracy",
        table.window_start >= utc(start),
        table.window_start < utc(end),
    )
    with engine.connect() as conn:
        return {
            utc(row.window_start): (float(row.value), float(row.details["row_sd"]))
            for row in conn.execute(query)
        }


def performance_table(
    stored: dict[datetime, StoredWindow],
    values: Iterable[tuple[datetime, str, float]],
    estimated: dict[datetime, tuple[float, float]] | None = None,
) -> str:
    """Realized and estimated (CBPE) accuracy by hour with the labelled share, whether the
    realized accuracy lies in the estimate's band for that many labels, F1, ROC AUC, latency
    p95 and the difference from the baseline."""
    by_hour: dict[datetime, dict[str, float]] = {}
    for start, metric, value in values:
        by_hour.setdefault(start, {})[metric] = value
    estimated = estimated or {}
    lines = [
        "",
        "model performance by hour: realized on the labels arrived so far, estimated (CBPE) "
        "on every row before any label; band = ±1.96·sd/√labelled:",
        "hour (UTC)        labelled  accuracy  estimated   band  in band      f1  roc_auc  "
        "latency p95 ms  vs baseline",
    ]

    def cell(value: float | None, width: int, sign: str = "") -> str:
        return f"{value:>{sign}{width}.3f}" if value is not None else f"{'-':>{width}}"

    for start, window in stored.items():
        m = by_hour.get(start, {})
        share = f"{window.n_labelled}/{window.n_scored}"
        guess, sd = estimated.get(start, (None, None))
        band = (
            1.96 * sd / math.sqrt(window.n_labelled)
            if sd is not None and window.n_labelled
            else None
        )
        inside = "-"
        if band is not None and m.get("accuracy") is not None:
            inside = "yes" if abs(m["accuracy"] - guess) <= band else "NO"
        lines.append(
            f"{start:%Y-%m-%d %H:%M}  {share:>10}  {cell(m.get('accuracy'), 8)}  "
            f"{cell(guess, 9)}  {cell(band, 5)}  {inside:>7}  {cell(m.get('f1'), 6)}  "
            f"{cell(m.get('roc_auc'), 7)}  {cell(m.get('latency_p95'), 14)}  "
            f"{cell(m.get('vs_baseline'), 11, '+')}"
        )
    return "\n".join(lines)


def rollup_table(engine, deployment, start: datetime, end: datetime) -> str:
    """Accuracy (realized and estimated) and latency p95 by day, merged from the hours."""
    lines = ["", "by day (merged from the stored hours):",
             "day (UTC)    hours  labelled  accuracy  estimated  latency p95 ms"]  # fmt: skip
    day = start.replace(hour=0)
    while day < end:
        window = rolled_up(engine, deployment, "day", max(day, start))
        performance = window.performance
        accuracy = performance.metrics.get("accuracy") if performance else None
        guess = window.estimated.get("accuracy")
        labelled = performance.labelled_rows if performance else 0
        lines.append(
            f"{day:%Y-%m-%d}  {window.hours:>6}  {labelled:>8}  "
            f"{'-' if accuracy is None else f'{accuracy:.3f}':>8}  "
            f"{'-' if guess is None else f'{guess.value:.3f}':>9}  "
            f"{window.latency.quantile(0.95) if window.latency.count else float('nan'):>14.1f}"
        )
        day += timedelta(days=1)
    return "\n".join(lines)


def retraining_text(decisions, requests, answers, versions, engine) -> str:
    """The retraining decision(s) with their reasons, the run and the baseline versions."""
    lines = ["", "retraining (retraining_sensor → retraining_job):"]
    if not decisions:
        lines.append("  no decision to retrain")
    for row in decisions:
        payload = row["payload"] or {}
        dry = " (dry run)" if payload.get("dry_run") else ""
        lines.append(f"  decided on the hour {row['window_start']:%Y-%m-%d %H:%M}{dry}, because:")
        lines += [f"    - {reason}" for reason in payload.get("reasons", [])]
    lines.append(f"  retraining runs requested: {len(requests)}")
    for answer in answers:
        lines.append(f"  retraining_job answered: {answer.get('answer', answer)}")
    lines.append("baseline versions (old ones stay queryable):")
    for number, version in enumerate(versions, start=1):
        baseline = read_baseline_performance(engine, DEMO_DEPLOYMENT, version)
        accuracy = baseline.metrics.get("accuracy") if baseline else None
        text = f"{accuracy:.3f}" if accuracy is not None else "-"
        latest = (
            "  ← drift and performance are judged against this one"
            if number == len(versions)
            else ""
        )
        lines.append(
            f"  v{number}  {version:%Y-%m-%d %H:%M:%S} UTC  validation accuracy {text}{latest}"
        )
    return "\n".join(lines)
