"""``drift_scores``: every metric of every column, for each hour and its rolled-up windows.

A multi-asset so its ``drift`` check can be left out of a run like the quality checks.
"""

from collections.abc import Iterator

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.checks import drift_check_outcome, drift_check_spec
from monitoring_pipelines.defs.failures import clear_failures
from monitoring_pipelines.defs.metadata import hour_drift_metadata
from monitoring_pipelines.defs.partitions import (
    backfill_policy,
    hour_key,
    hourly_partitions,
    windows_of,
)
from monitoring_pipelines.defs.per_partition import PartitionReport, report_partitions
from monitoring_pipelines.defs.progress import ProgressLog
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.drift import WindowScores, score_windows

ASSET = "drift_scores"


def build_drift_scores(
    config: MonitorsConfig, hourly_aggregates: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    partitions_def = hourly_partitions(config)

    @dg.multi_asset(
        name=ASSET,
        specs=[
            dg.AssetSpec(
                ASSET,
                deps=[hourly_aggregates],
                group_name="monitoring",
                kinds={"python", "sql"},
                description="Drift of each column against the baseline (PSI, TVD, "
                "Jensen–Shannon, Hellinger, KS, chi-squared, Wasserstein, z-score, missing "
                "rate) for the hour and its trailing-24h, day and week windows, in the "
                "`drift_scores` table; model drift (prediction distribution, confidence) in "
                "the metadata.",
            )
        ],
        check_specs=[drift_check_spec(ASSET, partitions_def)],
        partitions_def=partitions_def,
        backfill_policy=backfill_policy(config),
        can_subset=True,
    )
    @clear_failures
    def drift_scores(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
        log = ProgressLog(context.log.info)

        def progress(index: int, total: int, hour: WindowScores) -> None:
            drifted = ", ".join(hour.drifted_columns) or "none"
            log(index, total, hour.deployment_id, hour.start, f"drifted columns: {drifted}")

        results = score_windows(monitors.load(), store.engine(), windows_of(context), progress)
        yield from report_partitions(
            context,
            ASSET,
            (
                PartitionReport(
                    hour_key(r.deployment_id, r.start),
                    hour_drift_metadata(r),
                    (drift_check_outcome(r),),
                )
                for r in results
                if r.granularity == "hour"
            ),
        )

    return drift_scores
