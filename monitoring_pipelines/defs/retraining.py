"""The retraining trigger: ``retraining_sensor`` → outbox (kind ``retraining``) → job.

The sensor's cursor (``commit_seq:N``) is the last ``written_windows`` commit_seq it read of
``drift_scores`` and ``model_performance`` hours; each deployment with new results and a
``retraining`` block is decided as of its latest new window. A decision recorded in the
outbox (once per cooldown) requests one run of the job, keyed by the outbox key and tagged
with the reasons, unless the block says ``dry_run``; the decision itself goes to Slack (and a
``retraining_requested`` datum to CloudWatch) through a run of the alert job.
"""

from collections.abc import Iterator
from datetime import datetime

import dagster as dg

from monitoring_pipelines.alerts.evaluate import Sinks
from monitoring_pipelines.defs.alert_resources import AlertSink, MetricSink
from monitoring_pipelines.defs.alerting import alert_delivery_job
from monitoring_pipelines.defs.failures import clear_failures
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.settings import alert_settings
from monitoring_pipelines.pipeline.retraining import call_retraining, evaluate_retraining
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.alerts import PENDING
from monitoring_pipelines.store.windows import windows_since

SENSOR_NAME = "retraining_sensor"
JOB_NAME = "retraining_job"
CURSOR_PREFIX = "commit_seq:"
SOURCES = ("drift_scores", "model_performance")
BATCH = 10_000
MAX_TAG_CHARS = 4000


class RetrainingRequest(dg.Config):
    """Which deployment to retrain, and why (the sensor fills it in)."""

    deployment_id: str
    reasons: list[str]


@dg.op(name="retrain", description="Call the deployment's configured retraining.")
@clear_failures
def retrain(
    context: dg.OpExecutionContext, config: RetrainingRequest, monitors: MonitorsResource
) -> Iterator[dg.AssetMaterialization | dg.Output[dict]]:
    settings = monitors.load().deployment(config.deployment_id).retraining
    if settings is None:
        raise dg.Failure(f"deployment {config.deployment_id!r} has no retraining block")
    answer = dict(call_retraining(settings, config.deployment_id, config.reasons))
    context.log.info(f"retraining {config.deployment_id}: {answer}")
    version = (answer.get("answer") or {}) if isinstance(answer.get("answer"), dict) else {}
    if version.get("baseline_version"):  # the callable fitted a new baseline version
        yield dg.AssetMaterialization(
            asset_key="baseline_statistics",
            partition=config.deployment_id,
            description="a new baseline version, fitted by retraining_job",
            metadata={"baseline_version": version["baseline_version"]},
        )
    yield dg.Output(
        answer,
        metadata={"reasons": dg.MetadataValue.json(config.reasons), "answer": answer},
    )


@dg.job(name=JOB_NAME, description="Retrain one deployment (requested by retraining_sensor).")
def retraining_job() -> None:
    retrain()


def _seq(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.startswith(CURSOR_PREFIX) or not cursor[len(CURSOR_PREFIX) :].isdigit():
        raise ValueError(f"bad {SENSOR_NAME} cursor {cursor!r}: expected {CURSOR_PREFIX}<n>")
    return int(cursor[len(CURSOR_PREFIX) :])


@dg.sensor(
    name=SENSOR_NAME,
    jobs=[retraining_job, alert_delivery_job],
    minimum_interval_seconds=60,
    description="When new drift or performance hours land, decide retraining per deployment "
    "(monitors.yaml retraining block), record the decision in the outbox and request "
    "retraining_job at most once per cooldown; the decision is delivered by the alert job.",
)
def retraining_sensor(
    context: dg.SensorEvaluationContext,
    store: StoreResource,
    monitors: MonitorsResource,
    slack: AlertSink,
    cloudwatch: MetricSink,
) -> dg.SensorResult:
    engine = store.engine()
    after = _seq(context.cursor)
    new = [w for s in SOURCES for w in windows_since(engine, s, "hour", after, BATCH)]
    if not new:
        return dg.SensorResult(skip_reason=f"no new results after commit_seq {after}")
    cursor = f"{CURSOR_PREFIX}{max(w.commit_seq for w in new)}"
    config = monitors.load()
    sinks = Sinks(slack.configured, slack.channel, cloudwatch.configured)
    latest: dict[str, datetime] = {}
    for window in new:
        latest[window.deployment_id] = max(
            latest.get(window.deployment_id, window.window_end), window.window_end
        )
    requests, outbox_ids = [], []
    for deployment_id, as_of in sorted(latest.items()):
        if deployment_id not in config.ids:
            continue
        deployment = config.deployment(deployment_id)
        if deployment.retraining is None:
            continue
        _, routing = alert_settings(config, {deployment_id})
        outcome = evaluate_retraining(engine, deployment, as_of, sinks, routing[deployment_id])
        outbox_ids += outcome.outbox_ids
        reasons = list(outcome.decision.reasons)
        context.log.info(
            f"{deployment_id}: retrain={outcome.decision.retrain} ({'; '.join(reasons)})"
        )
        if outcome.dedup_key is None or deployment.retraining.dry_run:
            continue
        request = RetrainingRequest(deployment_id=deployment_id, reasons=reasons)
        requests.append(
            dg.RunRequest(
                job_name=JOB_NAME,
                run_key=outcome.dedup_key,
                run_config=dg.RunConfig(ops={"retrain": request}),
                tags={
                    "monitoring/trigger": "retraining",
                    "monitoring/deployment": deployment_id,
                    "monitoring/retraining_reasons": "; ".join(reasons)[:MAX_TAG_CHARS],
                },
            )
        )
    deliverable = outbox.select_rows(engine, ids=outbox_ids) if outbox_ids else []
    if any(PENDING in (r["slack_status"], r["cloudwatch_status"]) for r in deliverable):
        requests.append(
            dg.RunRequest(
                job_name=alert_delivery_job.name,
                run_key=f"outbox:{min(outbox_ids)}-{max(outbox_ids)}",
                tags={"monitoring/trigger": "retraining"},
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor)
