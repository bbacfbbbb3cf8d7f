"""``drift_scores``: every metric of every column, for each hour and its rolled-up windows."""

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.metadata import drift_metadata
from monitoring_pipelines.defs.partitions import hourly_partitions, windows_of
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.drift import WindowScores, score_windows


def build_drift_scores(
    config: MonitorsConfig, hourly_aggregates: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=hourly_partitions(config),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[hourly_aggregates],
        group_name="monitoring",
        kinds={"python", "sql"},
        description="Drift of each column against the baseline (PSI, TVD, Jensen–Shannon, "
        "Hellinger, KS, chi-squared, Wasserstein, z-score, missing rate) for the hour and "
        "its trailing-24h, day and week windows, in the `drift_scores` table; model drift "
        "(prediction distribution, confidence) in the metadata.",
    )
    def drift_scores(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> dg.MaterializeResult:
        def progress(index: int, total: int, hour: WindowScores) -> None:
            drifted = ", ".join(hour.drifted_columns) or "none"
            context.log.info(
                f"[{index}/{total}] {hour.deployment_id} {hour.start:%Y-%m-%d %H:%M}: "
                f"drifted columns: {drifted}"
            )

        results = score_windows(monitors.load(), store.engine(), windows_of(context), progress)
        return dg.MaterializeResult(metadata=drift_metadata(results))

    return drift_scores
