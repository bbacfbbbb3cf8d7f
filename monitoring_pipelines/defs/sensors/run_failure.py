"""``monitoring_run_failure_sensor``: every failed run of this code location becomes a
critical Slack alert with its cause and a link to the run.

It watches all jobs of the location (named jobs, the asset jobs behind the UI's Materialize
button and ``dagster asset materialize``, backfills), except the alert delivery job: that
job's failures are recorded on each outbox row already, and alerting through Slack about a
failed Slack delivery would loop (failure → alert → delivery run → failure ...). The cause is
the underlying exception of each failed step (Dagster's "Error occurred while executing op"
wrapper removed), redacted. The failure is written to the outbox, keyed by run id, so a
re-evaluated tick adds nothing; the alert job is requested only when Slack can deliver it.
"""

import os
from collections.abc import Mapping

import dagster as dg

from monitoring_pipelines.alerts.evaluate import Sinks
from monitoring_pipelines.alerts.redact import redact
from monitoring_pipelines.alerts.slack import TOKEN_ENV
from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.alert_resources import AlertSink
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.settings import alert_settings
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.engine import DATABASE_URL_ENV

SENSOR_NAME = "monitoring_run_failure_sensor"
ALL_DEPLOYMENTS = outbox.ALL_DEPLOYMENTS
SECRET_ENVS = (TOKEN_ENV, "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", DATABASE_URL_ENV)
PARTITION_TAGS = (
    "dagster/partition/deployment",
    "dagster/partition",
    "dagster/asset_partition_range_start",
)
MAX_CAUSE_CHARS = 300


def deployment_of(tags: Mapping[str, str], config: MonitorsConfig) -> str:
    """The deployment a run worked on, from its partition tags; ``all`` when it has none."""
    for tag in PARTITION_TAGS:
        for part in tags.get(tag, "").split("|"):
            if part in config.ids:
                return part
    return ALL_DEPLOYMENTS


def partition_of(tags: Mapping[str, str]) -> str | None:
    """The partition (or partition range) a run covered, as the UI shows it."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return f"{start} … {end}" if start and end else None


def _exception_text(error) -> str:
    """``Type: message`` of one serialized exception, without the module path; a
    ``dagster.Failure`` by its description alone (ours read ``Type: message`` already,
    ``defs/failures.py``)."""
    message = " ".join((error.message or "").split())
    _, prefix, rest = message.partition(f"{error.cls_name}:")
    text = (rest if prefix else message).strip()[:MAX_CAUSE_CHARS]
    if error.cls_name == "Failure" and text:
        return text
    return f"{error.cls_name}: {text}" if text else error.cls_name


def underlying_error(error) -> str:
    """The exception that caused a step failure: the chain after Dagster's own wrappers,
    innermost cause last (``ValueError: outer ← caused by KeyError: 'inner'``)."""
    first, chain = error, []
    while error is not None:
        if not error.cls_name.startswith("Dagster"):
            chain.append(_exception_text(error))
        error = error.cause
    return " ← caused by ".join(chain) or _exception_text(first)


def failure_summary(context: dg.RunFailureSensorContext) -> str:
    """Each failed step's underlying error (or the run's failure message when no step
    failed, e.g. a launch failure), with secrets removed."""
    lines = [
        f"{event.step_key}: {underlying_error(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    if not lines:
        lines = [context.failure_event.message or "run failed"]
    return redact("\n".join(lines), [os.environ.get(name) for name in SECRET_ENVS])


def build_run_failure_sensor(alert_job: dg.JobDefinition) -> dg.SensorDefinition:
    """The sensor over every job of the code location except ``alert_job``."""

    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        request_job=alert_job,
        description="Write each failed run of this code location (asset jobs, backfills and UI "
        "launches included; the alert job excepted) to the alert outbox as a critical Slack "
        "alert with its cause, and request the alert job.",
    )
    def run_failure_sensor(
        context: dg.RunFailureSensorContext,
        store: StoreResource,
        monitors: MonitorsResource,
        slack: AlertSink,
    ) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        if run.job_name == alert_job.name:
            return dg.SkipReason(
                f"run {run.run_id} of {alert_job.name} failed: its errors are on the outbox "
                "rows (`monitoring-pipelines alerts`); not alerted, so a Slack outage cannot loop"
            )
        config = monitors.load()
        deployment = deployment_of(run.tags, config)
        _, routing = alert_settings(config, {deployment})
        channel = routing[deployment].channel_for("critical") if deployment in routing else None
        sinks = Sinks(slack=slack.configured, default_channel=slack.channel, cloudwatch=False)
        entry = outbox.run_failure_entry(
            deployment,
            run.run_id,
            run.job_name,
            failure_summary(context),
            channel,
            partition=partition_of(run.tags),
            slack_skip=sinks.slack_skip(deployment, channel),
        )
        outbox.enqueue(store.engine(), [entry])
        if entry["slack_status"] != outbox.PENDING:
            reason = entry["slack_last_error"]
            return dg.SkipReason(f"run {run.run_id} failed; recorded in the outbox: {reason}")
        return dg.RunRequest(
            run_key=f"run_failure:{run.run_id}", tags={"monitoring/trigger": "run_failure"}
        )

    return run_failure_sensor
