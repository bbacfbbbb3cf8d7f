"""``drift_report``: the HTML drift report of each run's hours (at least the trailing day)."""

import base64
from collections.abc import Iterator

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.failures import clear_failures
from monitoring_pipelines.defs.partitions import (
    backfill_policy,
    hour_key,
    hourly_partitions,
    windows_of,
)
from monitoring_pipelines.defs.per_partition import PartitionReport, report_partitions
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.report import WrittenReport, write_run_reports
from monitoring_pipelines.report.model import sections


def report_metadata(written: WrittenReport) -> dict[str, dg.MetadataValue]:
    """The report's path, period and verdict, and a PNG of its top drifted column."""
    report = written.report
    metadata = {
        "report": dg.MetadataValue.path(str(written.html)),
        "report_period": dg.MetadataValue.text(
            f"{report.start:%Y-%m-%d %H:%M} – {report.end:%Y-%m-%d %H:%M} UTC"
        ),
        "report_status": dg.MetadataValue.text(report.status),
        "report_drifted_columns": dg.MetadataValue.int(len(report.drifted)),
        "report_covers": dg.MetadataValue.text(
            f"{report.title}'s hours of this run (at least the trailing 24) in one report: "
            "the same file for each of them, not this hour alone"
        ),
    }
    versions = [part for part in sections(report) if part.version is not None]
    if versions:  # more than one when the report spans a retraining
        metadata["report_baseline_versions"] = dg.MetadataValue.text(
            "; ".join(f"{p.hours} hours against v{p.version.number}" for p in versions)
        )
    if written.png is not None:
        image = base64.b64encode(written.png.read_bytes()).decode("ascii")
        metadata["top_drifted_column"] = dg.MetadataValue.md(
            f"![distribution of the top drifted column](data:image/png;base64,{image})"
        )
    return metadata


def build_drift_report(
    config: MonitorsConfig, drift_scores: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=hourly_partitions(config),
        backfill_policy=backfill_policy(config),
        deps=[drift_scores],
        group_name="monitoring",
        kinds={"html"},
        description="A self-contained HTML drift report per deployment of the run (its hours, "
        "at least the trailing 24), under `$DAGSTER_HOME/reports/<deployment>/`; the path "
        "and a PNG of the top drifted column are in the metadata.",
    )
    @clear_failures
    def drift_report(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> Iterator[dg.MaterializeResult]:
        windows = windows_of(context)
        written = write_run_reports(monitors.load(), store.engine(), windows)
        for item in written.values():
            context.log.info(f"{item.report.title}: {item.report.status}, report {item.html}")
        metadata = {deployment_id: report_metadata(w) for deployment_id, w in written.items()}
        yield from report_partitions(
            context,
            "drift_report",
            [PartitionReport(str(hour_key(d, hour)), metadata[d]) for d, hour in windows],
        )

    return drift_report
