"""``model_performance``: each hour's predictions joined with the labels that arrived so far."""

from collections.abc import Iterator

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.failures import clear_failures
from monitoring_pipelines.defs.metadata import hour_performance_metadata
from monitoring_pipelines.defs.partitions import hour_key, hourly_partitions, windows_of
from monitoring_pipelines.defs.per_partition import PartitionReport, report_partitions
from monitoring_pipelines.defs.progress import ProgressLog
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.performance import PerformanceSummary, performance_windows

ASSET = "model_performance"


def _detail(summary: PerformanceSummary) -> str:
    performance = summary.performance
    main = next(iter(performance.metrics.items()), None)
    text = f"{performance.labelled_rows}/{performance.rows_scored} labelled"
    return text + (f", {main[0]} {main[1]:.4f}" if main else f" ({performance.status})")


def build_model_performance(config: MonitorsConfig) -> dg.AssetsDefinition:
    @dg.asset(
        name=ASSET,
        group_name="monitoring",
        kinds={"python", "sql"},
        description="Accuracy, precision, recall, F1, ROC AUC, log loss and the confusion "
        "matrix (or RMSE, MAE, R², mean error) of each hour's predictions on the labels that "
        "have arrived so far, plus latency p50/p95/p99 from a mergeable sketch, in the "
        "`model_performance` table. A backfill of any range is one run.",
        partitions_def=hourly_partitions(config),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    @clear_failures
    def model_performance(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> Iterator[dg.MaterializeResult]:
        log = ProgressLog(context.log.info)

        def progress(index: int, total: int, summary: PerformanceSummary) -> None:
            log(index, total, summary.deployment_id, summary.start, _detail(summary))

        summaries = performance_windows(
            monitors.load(), store.engine(), windows_of(context), progress
        )
        yield from report_partitions(
            context,
            ASSET,
            (
                PartitionReport(hour_key(s.deployment_id, s.start), hour_performance_metadata(s))
                for s in summaries
            ),
        )

    return model_performance
