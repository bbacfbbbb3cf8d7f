"""``drift_threshold_sensor``: newly committed hourly ``drift_scores`` windows → alert policy →
outbox → alert job.

The cursor (``commit_seq:N``) is the last ``written_windows`` commit_seq judged. commit_seq
order is commit order (``store.windows``), so a window whose run commits after a later one
was judged is still judged, once; a rewritten window is read again (and enqueues nothing
new: the outbox deduplicates). A window commits the rows of every reference it was compared
with (training, last_week, ...) together, so each (window, reference) is judged once, and
the reference is part of each alert's dedup key and history; so are the window's segments
(``region=eu``), judged with the population. A tick reads at most
``batch_size`` rows (whole windows only).
Only hourly windows are judged: the rolled-up ones (day, week, ...) would collide with the
hourly cooldown history. When nothing new was enqueued but deliveries failed earlier, a retry
run is requested at most once per ``retry_minutes``.
"""

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import dagster as dg
from sqlalchemy import Engine

from monitoring_pipelines.alerts.evaluate import Sinks, enqueue_drift
from monitoring_pipelines.defs.alert_resources import AlertSink, MetricSink
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.settings import alert_settings
from monitoring_pipelines.stats.alert_policy import DriftRecord
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import commit_seq_for_legacy_cursor, read_new_drift_scores
from monitoring_pipelines.store.schema import drift_scores
from monitoring_pipelines.store.windows import whole_windows, windows_since

SENSOR_NAME = "drift_threshold_sensor"
JUDGED_GRANULARITY = "hour"
BATCH_SIZE = 50_000
RETRY_MINUTES = 15
CURSOR_PREFIX = "commit_seq:"


def cursor_seq(engine: Engine, cursor: str | None) -> int:
    """The last judged commit_seq: 0 without a cursor; a bare number is the previous release's
    cursor (the last ``drift_scores`` id judged), converted once without re-judging or
    skipping a window."""
    if not cursor:
        return 0
    if cursor.startswith(CURSOR_PREFIX) and cursor.removeprefix(CURSOR_PREFIX).isdigit():
        return int(cursor.removeprefix(CURSOR_PREFIX))
    if cursor.isdigit():
        return commit_seq_for_legacy_cursor(engine, int(cursor))
    raise ValueError(
        f"bad {SENSOR_NAME} cursor {cursor!r}: expected {CURSOR_PREFIX}<n> "
        "(or a drift_scores id from release 0.1.0)"
    )


def format_cursor(seq: int) -> str:
    return f"{CURSOR_PREFIX}{seq}"


def _window(row: Mapping[str, Any]) -> tuple[str, datetime, str]:
    return row["deployment_id"], row["window_start"], row["granularity"]


def read_new_windows(
    engine: Engine, after_seq: int, batch_size: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The rows of the hourly windows committed after ``after_seq``, at most ``batch_size``
    rows in whole windows (a larger window is read whole), and the commit_seq they reach
    (None: no new window). Rows come without ``detail``, which the policy never reads."""
    heads = windows_since(engine, drift_scores.name, JUDGED_GRANULARITY, after_seq, batch_size)
    batch = whole_windows(heads, batch_size)
    if not batch:
        return [], None
    up_to = batch[-1].commit_seq
    rows = read_new_drift_scores(
        engine, JUDGED_GRANULARITY, after_seq, up_to, with_detail=False, segment=None
    )
    return rows, up_to


def drift_records(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[DriftRecord], dict[tuple[str, datetime, str], int]]:
    """Judged rows as policy records, and each window's rows scored (its largest sample)."""
    judged = [row for row in rows if row["granularity"] == JUDGED_GRANULARITY]
    rows_scored: dict[tuple[str, datetime, str], int] = {}
    for row in judged:
        key = _window(row)
        rows_scored[key] = max(rows_scored.get(key, 0), int(row["current_size"]))
    return [DriftRecord.from_mapping(row) for row in judged], rows_scored


def _retry_request(engine: Engine, retry_minutes: float, sinks: Sinks) -> dg.RunRequest | None:
    """A retry run after failed deliveries, at most once per ``retry_minutes`` slot, only
    when a configured channel has rows to retry (a run without a transport does nothing)."""
    channels = [c for c, on in (("slack", sinks.slack), ("cloudwatch", sinks.cloudwatch)) if on]
    if not outbox.needs_retry(engine, channels):
        return None
    slot = int(time.time() // (retry_minutes * 60))
    return dg.RunRequest(run_key=f"retry:{slot}", tags={"monitoring/trigger": "retry"})


def build_drift_threshold_sensor(
    alert_job: dg.JobDefinition,
    batch_size: int = BATCH_SIZE,
    retry_minutes: float = RETRY_MINUTES,
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """The sensor, requesting ``alert_job`` when a tick enqueues alerts or metrics."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=alert_job.name,
        minimum_interval_seconds=minimum_interval_seconds,
        description="Judge newly committed hourly drift_scores windows against each "
        "deployment's alerts block in monitors.yaml, write alerts and metrics to the outbox, "
        "and request the alert job.",
    )
    def drift_threshold_sensor(
        context: dg.SensorEvaluationContext,
        store: StoreResource,
        monitors: MonitorsResource,
        slack: AlertSink,
        cloudwatch: MetricSink,
    ) -> dg.SensorResult:
        engine = store.engine()
        sinks = Sinks(slack.configured, slack.channel, cloudwatch.configured)
        after = cursor_seq(engine, context.cursor)
        rows, up_to = read_new_windows(engine, after, batch_size)
        if up_to is None:
            retry = _retry_request(engine, retry_minutes, sinks)
            kept = format_cursor(after) if context.cursor else None  # a converted one, stored
            if retry is not None:
                return dg.SensorResult(run_requests=[retry], cursor=kept)
            return dg.SensorResult(
                skip_reason=f"no new hourly drift windows after commit_seq {after}", cursor=kept
            )
        cursor = format_cursor(up_to)
        records, rows_scored = drift_records(rows)
        config = monitors.load()
        settings, routing = alert_settings(config, {record.deployment_id for record in records})
        freshness = {d.id: config.freshness_policy(d) for d in config.deployments}
        result = enqueue_drift(
            engine, records, settings, routing, rows_scored, sinks=sinks, freshness=freshness
        )
        new_ids = result.alert_ids + result.metrics_ids
        context.log.info(
            f"{len(rows_scored)} window(s), {len(rows)} drift scores "
            f"(commit_seq {after + 1}–{up_to}): "
            f"{len(result.alert_ids)} alert(s), {len(result.metrics_ids)} metric window(s), "
            f"{len(result.decision.suppressed)} result(s) not alerted"
        )
        if not result.deliverable:
            return dg.SensorResult(
                skip_reason=f"{len(rows)} new drift scores, nothing new to deliver", cursor=cursor
            )
        request = dg.RunRequest(
            run_key=f"outbox:{min(new_ids)}-{max(new_ids)}",
            tags={"monitoring/trigger": "drift", "monitoring/alerts": str(len(result.alert_ids))},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return drift_threshold_sensor
