"""``hourly_aggregates``: each hour of each deployment's logs, profiled on the baseline's edges."""

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.checks import quality_check_results, quality_check_specs
from monitoring_pipelines.defs.metadata import windows_metadata
from monitoring_pipelines.defs.partitions import hourly_partitions, windows_of
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.aggregation import aggregate_windows


def build_hourly_aggregates(
    config: MonitorsConfig, baseline: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    checks = config.defaults.quality_checks

    @dg.asset(
        partitions_def=hourly_partitions(config),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[baseline],
        group_name="monitoring",
        kinds={"python", "sql"},
        check_specs=quality_check_specs("hourly_aggregates") if checks else None,
        description="Histograms on the baseline's bin edges, value counts, moments and missing "
        "counts of one hour of scoring logs, in the `aggregates` table. A backfill of any "
        "range is one run that streams through the hours.",
    )
    def hourly_aggregates(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> dg.MaterializeResult:
        windows = windows_of(context)

        def progress(index: int, total: int, summary) -> None:
            context.log.info(
                f"[{index}/{total}] {summary.deployment_id} {summary.start:%Y-%m-%d %H:%M}: "
                f"{summary.rows} rows"
            )

        summaries = aggregate_windows(
            monitors.load(), store.engine(), windows, progress, validate=checks
        )
        return dg.MaterializeResult(
            metadata=windows_metadata(summaries),
            check_results=quality_check_results(summaries) if checks else None,
        )

    return hourly_aggregates
