"""``late_labels_sensor``: recompute the ``model_performance`` hours whose labels changed.

Each tick, for every deployment with a ``labels`` block, the hours of the last
``label_horizon_hours`` that got a label for one of their requests since they were computed
(``pipeline.performance.stale_hours``), and the hours whose horizon passed since they were
last computed (so each gets a computation with its final labels, the one CloudWatch gets), are
re-materialized as one single-run backfill of
``late_labels_job`` over their range (so numbers converge as labels arrive); an hour whose
labels did not change is not read again. The run key names the hours and the stored cutoffs,
so a tick before that run finishes does not request it twice.
"""

from datetime import UTC, datetime

import dagster as dg

from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.performance import stale_hours

SENSOR_NAME = "late_labels_sensor"
JOB_NAME = "late_labels_job"


def build_late_labels_job(performance: dg.AssetsDefinition):
    return dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.assets(performance),
        description="Recompute model_performance hours whose labels arrived late.",
    )


@dg.sensor(
    name=SENSOR_NAME,
    job_name=JOB_NAME,
    minimum_interval_seconds=900,
    description="Re-materialize the model_performance hours of the last label_horizon_hours "
    "whose labels changed since they were computed, one run per deployment per tick.",
)
def late_labels_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource, monitors: MonitorsResource
) -> dg.SensorResult:
    config, engine = monitors.load(), store.engine()
    now = datetime.now(UTC)
    requests = []
    for deployment in config.deployments:
        hours = stale_hours(config, engine, deployment, now)
        if not hours:
            continue
        context.log.info(f"{deployment.id}: {len(hours)} hour(s) got new labels")
        first, last = hour_key(deployment.id, hours[0]), hour_key(deployment.id, hours[-1])
        requests.append(
            dg.RunRequest(
                run_key=f"late_labels:{deployment.id}:{','.join(h.isoformat() for h in hours)}"
                f":{now:%Y-%m-%dT%H}",
                tags={
                    "dagster/asset_partition_range_start": str(first),
                    "dagster/asset_partition_range_end": str(last),
                    "monitoring/trigger": "late_labels",
                },
            )
        )
    if not requests:
        return dg.SensorResult(skip_reason="no hour got new labels")
    return dg.SensorResult(run_requests=requests)
