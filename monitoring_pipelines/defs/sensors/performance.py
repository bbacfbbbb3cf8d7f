"""``model_performance_sensor``: newly written ``model_performance`` hours → performance rules
and CloudWatch datums → outbox → alert job.

The cursor (``commit_seq:N``) is the last ``written_windows`` commit_seq read of
``model_performance`` hours (commit order, as the drift sensor's); an hour recomputed as
labels arrive comes back with a higher commit_seq and is judged again (the outbox keeps one
alert per hour, metric and severity, and one CloudWatch row per labels cutoff).
"""

import dagster as dg

from monitoring_pipelines.alerts.evaluate import Sinks
from monitoring_pipelines.alerts.performance import enqueue_performance
from monitoring_pipelines.defs.alert_resources import AlertSink, MetricSink
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.drift_threshold import cursor_seq, format_cursor
from monitoring_pipelines.defs.sensors.settings import alert_settings
from monitoring_pipelines.store.windows import windows_since

SENSOR_NAME = "model_performance_sensor"
SOURCE = "model_performance"
BATCH = 5_000


def build_performance_sensor(
    alert_job: dg.JobDefinition, minimum_interval_seconds: int = 60
) -> dg.SensorDefinition:
    """The sensor, requesting ``alert_job`` when a tick enqueues something to deliver."""

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=alert_job.name,
        minimum_interval_seconds=minimum_interval_seconds,
        description="Judge newly written model_performance hours against each deployment's "
        "performance_alerts block in monitors.yaml, write performance alerts and CloudWatch "
        "datums (accuracy, estimated accuracy, latency p95) to the outbox, and request the "
        "alert job.",
    )
    def model_performance_sensor(
        context: dg.SensorEvaluationContext,
        store: StoreResource,
        monitors: MonitorsResource,
        slack: AlertSink,
        cloudwatch: MetricSink,
    ) -> dg.SensorResult:
        engine = store.engine()
        after = cursor_seq(engine, context.cursor)
        new = windows_since(engine, SOURCE, "hour", after, BATCH)
        if not new:
            return dg.SensorResult(skip_reason=f"no new performance hours after commit_seq {after}")
        cursor = format_cursor(new[-1].commit_seq)
        config = monitors.load()
        _, routing = alert_settings(config, {w.deployment_id for w in new})
        sinks = Sinks(slack.configured, slack.channel, cloudwatch.configured)
        tick = enqueue_performance(engine, config, new, routing, sinks)
        context.log.info(
            f"{len(new)} performance hour(s): {len(tick.alert_ids)} alert(s), "
            f"{len(tick.metrics_ids)} metric window(s)"
        )
        if not tick.deliverable:
            return dg.SensorResult(
                skip_reason=f"{len(new)} new performance hours, nothing new to deliver",
                cursor=cursor,
            )
        ids = tick.alert_ids + tick.metrics_ids
        request = dg.RunRequest(
            run_key=f"outbox:{min(ids)}-{max(ids)}",
            tags={"monitoring/trigger": "performance", "monitoring/alerts": str(len(ids))},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return model_performance_sensor
