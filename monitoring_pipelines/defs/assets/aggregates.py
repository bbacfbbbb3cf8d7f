"""``hourly_aggregates``: each hour of each deployment's logs, profiled on the baseline's edges.

A multi-asset only so its great-expectations check can be left out of a run (a backfill
launched without it skips validation).
"""

from collections.abc import Iterator

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.checks import (
    QUALITY_CHECK,
    freshness_check_outcome,
    freshness_check_spec,
    quality_check_outcome,
    quality_check_spec,
    rows_check_outcome,
    rows_check_spec,
)
from monitoring_pipelines.defs.failures import clear_failures
from monitoring_pipelines.defs.metadata import window_metadata
from monitoring_pipelines.defs.partitions import (
    backfill_policy,
    hour_key,
    hourly_partitions,
    windows_of,
)
from monitoring_pipelines.defs.per_partition import PartitionReport, report_partitions
from monitoring_pipelines.defs.progress import ProgressLog
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.aggregation import (
    WindowsFailedError,
    WindowSummary,
    aggregate_windows,
)
from monitoring_pipelines.pipeline.split import aggregate_windows_split

ASSET = "hourly_aggregates"


def build_hourly_aggregates(
    config: MonitorsConfig, baseline: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    checks = config.defaults.quality_checks
    partitions_def = hourly_partitions(config)

    @dg.multi_asset(
        name=ASSET,
        specs=[
            dg.AssetSpec(
                ASSET,
                deps=[baseline],
                group_name="monitoring",
                kinds={"python", "sql"},
                description="Histograms on the baseline's bin edges, value counts, moments and "
                "missing counts of one hour of scoring logs, in the `aggregates` table. A "
                "backfill of any range is one run that streams through the hours.",
            )
        ],
        check_specs=[
            freshness_check_spec(ASSET, partitions_def),
            rows_check_spec(ASSET, partitions_def),
            *([quality_check_spec(ASSET, partitions_def)] if checks else []),
        ],
        partitions_def=partitions_def,
        backfill_policy=backfill_policy(config),
        can_subset=True,
    )
    @clear_failures
    def hourly_aggregates(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
        selected = {key.name for key in context.selected_asset_check_keys}
        validate = checks and QUALITY_CHECK in selected

        log = ProgressLog(context.log.info)

        def progress(index: int, total: int, summary: WindowSummary) -> None:
            log(index, total, summary.deployment_id, summary.start, f"{summary.rows} rows")
            for notice in summary.segment_notices:
                context.log.warning(
                    f"{summary.deployment_id} {summary.start:%Y-%m-%d %H:00}: {notice}"
                )

        windows = windows_of(context)
        processes = min(config.defaults.backfill.processes, len(windows))
        if processes > 1:
            context.log.info(f"{len(windows)} hours split across {processes} processes")
        failed = None
        try:
            if processes > 1:
                summaries = aggregate_windows_split(
                    monitors.load(), store.engine(), windows, processes, progress, validate
                )
            else:
                summaries = aggregate_windows(
                    monitors.load(), store.engine(), windows, progress, validate=validate
                )
        except WindowsFailedError as error:
            summaries, failed = error.summaries, error
        yield from report_partitions(
            context,
            ASSET,
            (
                PartitionReport(
                    hour_key(s.deployment_id, s.start),
                    window_metadata(s),
                    freshness_check_outcome(s) + rows_check_outcome(s) + quality_check_outcome(s),
                )
                for s in summaries
            ),
            complete=failed is None,
        )
        if failed is not None:
            raise failed  # after the stored hours are reported: the run fails listing the rest

    return hourly_aggregates
