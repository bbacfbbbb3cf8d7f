"""The alert job (deliver the outbox to Slack and CloudWatch) and its wiring into Definitions.

Each op delivers one channel through ``deliver_pending`` and records its counts (never the
token) as output metadata. A delivery that left rows retrying, unconfirmed or failed fails
its op after recording them, so an outage is visible in the UI. The run-failure sensor
watches every job of the location but never alerts about this one: its failures are
already recorded on each outbox row, and alerting through Slack about Slack failing would
loop (failure → alert → delivery run → failure ...).
"""

import dagster as dg

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.report import DeliveryReport
from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.alert_resources import AlertSink, MetricSink, alert_resources
from monitoring_pipelines.defs.resources import StoreResource
from monitoring_pipelines.defs.sensors.drift_threshold import build_drift_threshold_sensor
from monitoring_pipelines.defs.sensors.performance import build_performance_sensor
from monitoring_pipelines.defs.sensors.run_failure import build_run_failure_sensor
from monitoring_pipelines.defs.sensors.settings import alert_settings

ALERT_JOB = "alert_delivery_job"


def _finish(context: dg.OpExecutionContext, report: DeliveryReport, channel: str) -> None:
    """Counts as metadata; a Failure (secret-free message) when rows were left undelivered."""
    metadata: dict[str, int] = dict(report.summary(channel))
    if channel == "slack":
        metadata |= {"slack_messages": report.slack_messages, "lookups": report.slack_lookups}
    else:
        metadata["cloudwatch_calls"] = report.cloudwatch_calls
    undelivered = report.undelivered(channel)
    if undelivered:
        raise dg.Failure(
            description=f"{undelivered} {channel} deliveries not confirmed "
            f"({report.count(channel, 'retrying')} retrying, "
            f"{report.count(channel, 'unconfirmed')} unconfirmed, "
            f"{report.count(channel, 'failed')} failed); first error: {report.errors[0]}",
            metadata=metadata,
        )
    context.add_output_metadata(metadata)


@dg.op(description="Post pending drift, resolved and run-failure alerts to Slack.")
def post_slack_alerts(
    context: dg.OpExecutionContext, store: StoreResource, slack: AlertSink
) -> None:
    report = deliver_pending(
        store.engine(), slack.transport(), None, logger=context.log, channels=("slack",)
    )
    _finish(context, report, "slack")


@dg.op(description="Put pending window metrics (drift scores, rows scored) to CloudWatch.")
def put_cloudwatch_metrics(
    context: dg.OpExecutionContext, store: StoreResource, cloudwatch: MetricSink
) -> None:
    report = deliver_pending(
        store.engine(), None, cloudwatch.transport(), logger=context.log, channels=("cloudwatch",)
    )
    _finish(context, report, "cloudwatch")


@dg.job(
    name=ALERT_JOB,
    description="Deliver the alert outbox: Slack messages and CloudWatch metrics, each at most "
    "once per dedup key; what cannot be delivered stays pending.",
)
def alert_delivery_job() -> None:
    post_slack_alerts()
    put_cloudwatch_metrics()


def build_alerting(
    config: MonitorsConfig,
) -> tuple[list[dg.JobDefinition], list[dg.SensorDefinition], dict[str, dg.ConfigurableResource]]:
    """The alert job, the drift-threshold and run-failure sensors, and the sinks.

    ``monitors.yaml``'s alerts blocks are validated here, so a bad one fails on load.
    """
    alert_settings(config)
    sensors = [
        build_drift_threshold_sensor(alert_delivery_job),
        build_run_failure_sensor(alert_delivery_job),
        build_performance_sensor(alert_delivery_job),
    ]
    return [alert_delivery_job], sensors, alert_resources()
