"""``monitoring_run_failure_sensor``: a failed monitoring run becomes a critical Slack alert.

The failure is written to the outbox (keyed by run id, so a re-evaluated tick adds nothing)
and the alert job is requested; delivery then has the outbox's retries and exactly-once
record. Only the monitoring jobs are watched, never the alert job itself, so a Slack
outage that fails the alert job cannot feed back into more Slack alerts.
"""

import os
from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from monitoring_pipelines.alerts.redact import redact
from monitoring_pipelines.alerts.slack import TOKEN_ENV
from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.settings import alert_settings
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.engine import DATABASE_URL_ENV

SENSOR_NAME = "monitoring_run_failure_sensor"
ALL_DEPLOYMENTS = "all"
SECRET_ENVS = (TOKEN_ENV, "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", DATABASE_URL_ENV)
PARTITION_TAGS = (
    "dagster/partition/deployment",
    "dagster/partition",
    "dagster/asset_partition_range_start",
)


def deployment_of(tags: Mapping[str, str], config: MonitorsConfig) -> str:
    """The deployment a run worked on, from its partition tags; ``all`` when it has none."""
    for tag in PARTITION_TAGS:
        for part in tags.get(tag, "").split("|"):
            if part in config.ids:
                return part
    return ALL_DEPLOYMENTS


def failure_summary(context: dg.RunFailureSensorContext) -> str:
    """The run's failure message and each failed step's error, with secrets removed."""
    lines = [context.failure_event.message or "run failed"]
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        if error is not None:
            lines.append(f"{event.step_key}: {error.cls_name}: {error.message.strip()}")
    return redact("\n".join(lines), [os.environ.get(name) for name in SECRET_ENVS])


def build_run_failure_sensor(
    alert_job: dg.JobDefinition,
    monitored_jobs: Sequence[dg.JobDefinition | UnresolvedAssetJobDefinition],
) -> dg.SensorDefinition:
    """The sensor, watching ``monitored_jobs`` (which must not include ``alert_job``)."""
    if any(job.name == alert_job.name for job in monitored_jobs):
        raise ValueError(f"monitored_jobs must not include the alert job {alert_job.name!r}")

    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        monitored_jobs=list(monitored_jobs),
        request_job=alert_job,
        description="Write each failed monitoring run to the alert outbox as a critical "
        "Slack alert and request the alert job.",
    )
    def run_failure_sensor(
        context: dg.RunFailureSensorContext, store: StoreResource, monitors: MonitorsResource
    ) -> dg.RunRequest:
        run = context.dagster_run
        config = monitors.load()
        deployment = deployment_of(run.tags, config)
        _, routing = alert_settings(config, {deployment})
        channel = routing[deployment].channel_for("critical") if deployment in routing else None
        entry = outbox.run_failure_entry(
            deployment, run.run_id, run.job_name, failure_summary(context), channel
        )
        outbox.enqueue(store.engine(), [entry])
        return dg.RunRequest(
            run_key=f"run_failure:{run.run_id}", tags={"monitoring/trigger": "run_failure"}
        )

    return run_failure_sensor
