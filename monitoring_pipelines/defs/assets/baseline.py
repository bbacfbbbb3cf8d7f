"""``baseline_statistics``: the profile of each deployment's training data, fitted once."""

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.metadata import profile_metadata
from monitoring_pipelines.defs.partitions import deployment_partitions
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.aggregation import compute_baseline


def build_baseline_statistics(config: MonitorsConfig) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=deployment_partitions(config),
        group_name="monitoring",
        kinds={"python", "sql"},
        description="Bin edges, histograms, value counts and moments of each deployment's "
        "reference (training) data, written to the `aggregates` table with is_baseline = true.",
    )
    def baseline_statistics(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> dg.MaterializeResult:
        config = monitors.load()
        deployment = config.deployment(context.partition_key)
        profile = compute_baseline(config, deployment, store.engine())
        context.log.info(f"{deployment.id}: baseline of {profile.row_count} rows stored")
        return dg.MaterializeResult(metadata=profile_metadata(profile))

    return baseline_statistics
