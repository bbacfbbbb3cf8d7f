"""``baseline_statistics``: the profile of each deployment's training data, fitted once."""

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.failures import clear_failures
from monitoring_pipelines.defs.metadata import (
    baseline_performance_metadata,
    multivariate_model_metadata,
    profile_metadata,
)
from monitoring_pipelines.defs.partitions import deployment_partitions
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.aggregation import compute_baseline
from monitoring_pipelines.store.multivariate import read_model
from monitoring_pipelines.store.performance import read_baseline_performance


def build_baseline_statistics(config: MonitorsConfig) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=deployment_partitions(config),
        group_name="monitoring",
        kinds={"python", "sql"},
        description="Bin edges, histograms, value counts and moments of each deployment's "
        "reference (training) data, written to the `aggregates` table with is_baseline = true; "
        "with a validation block, the model's performance on that labelled validation set "
        "(a new version in `model_performance`, kind baseline).",
    )
    @clear_failures
    def baseline_statistics(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> dg.MaterializeResult:
        config = monitors.load()
        deployment = config.deployment(context.partition_key)
        profile = compute_baseline(config, deployment, store.engine())
        context.log.info(f"{deployment.id}: baseline of {profile.row_count} rows stored")
        performance = read_baseline_performance(store.engine(), deployment.id)
        multivariate = multivariate_model_metadata(*read_model(store.engine(), deployment.id))
        return dg.MaterializeResult(
            metadata=profile_metadata(profile)
            | baseline_performance_metadata(performance)
            | multivariate
        )

    return baseline_statistics
