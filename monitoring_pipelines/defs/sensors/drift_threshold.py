"""``drift_threshold_sensor``: new ``drift_scores`` rows → alert policy → outbox → alert job.

The cursor is the last ``drift_scores`` id judged, so each window is read and judged once
across restarts; a tick reads at most ``batch_size`` rows (whole windows only). Hourly
windows are judged; rolled-up windows (day, week, ...) only advance the cursor, because
their cooldown history would collide with the hourly one. When nothing new was enqueued
but deliveries failed earlier, a retry run is requested at most once per ``retry_minutes``.
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
from monitoring_pipelines.store.drift import last_drift_score_id, read_drift_scores_since

SENSOR_NAME = "drift_threshold_sensor"
JUDGED_GRANULARITY = "hour"
BATCH_SIZE = 50_000
RETRY_MINUTES = 15


def parse_cursor(cursor: str | None) -> int:
    """The last judged ``drift_scores`` id; no cursor yet means 0."""
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"bad {SENSOR_NAME} cursor {cursor!r}: expected a drift_scores id")
    return int(cursor)


def _window(row: Mapping[str, Any]) -> tuple[str, datetime, str]:
    return row["deployment_id"], row["window_start"], row["granularity"]


def read_whole_windows(
    engine: Engine, after_id: int, batch_size: int, up_to_id: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``batch_size`` judged (hourly) rows with ``after_id < id <= up_to_id``, never
    splitting a window between ticks, and whether they are all there are up to ``up_to_id``.

    A full batch drops the rows from the first one of its last window on; a window larger
    than the batch is read whole. Rows come without ``detail``, which the policy never reads.
    """
    limit = batch_size
    while True:
        rows = read_drift_scores_since(
            engine,
            after_id,
            limit=limit,
            up_to_id=up_to_id,
            granularity=JUDGED_GRANULARITY,
            with_detail=False,
        )
        if len(rows) < limit:
            return rows, True
        last = _window(rows[-1])
        cut = next(i for i, row in enumerate(rows) if _window(row) == last)
        if cut:
            return rows[:cut], False
        limit *= 2


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


def _retry_request(engine: Engine, retry_minutes: float) -> dg.RunRequest | None:
    """A retry run after failed deliveries, at most once per ``retry_minutes`` slot."""
    if not outbox.needs_retry(engine):
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
        description="Judge new drift_scores rows against each deployment's alerts block in "
        "monitors.yaml, write alerts and metrics to the outbox, and request the alert job.",
    )
    def drift_threshold_sensor(
        context: dg.SensorEvaluationContext,
        store: StoreResource,
        monitors: MonitorsResource,
        slack: AlertSink,
        cloudwatch: MetricSink,
    ) -> dg.SensorResult:
        engine = store.engine()
        after = parse_cursor(context.cursor)
        newest = last_drift_score_id(engine)  # read first: rows written later wait a tick
        rows, complete = read_whole_windows(engine, after, batch_size, up_to_id=newest)
        if not rows:
            retry = _retry_request(engine, retry_minutes)
            skipped = str(newest) if newest > after else None  # only rolled-up windows
            if retry is not None:
                return dg.SensorResult(run_requests=[retry], cursor=skipped)
            return dg.SensorResult(
                skip_reason=f"no drift scores to judge after id {after}", cursor=skipped
            )
        # a complete read holds every judged row up to ``newest``: skip the rolled-up rest
        cursor = str(newest if complete else rows[-1]["id"])
        records, rows_scored = drift_records(rows)
        settings, routing = alert_settings(
            monitors.load(), {record.deployment_id for record in records}
        )
        sinks = Sinks(slack.configured, slack.channel, cloudwatch.configured)
        result = enqueue_drift(engine, records, settings, routing, rows_scored, sinks=sinks)
        new_ids = result.alert_ids + result.metrics_ids
        context.log.info(
            f"{len(rows)} drift scores (ids {after + 1}–{cursor}): "
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
