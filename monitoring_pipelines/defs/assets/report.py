"""``drift_report``: the HTML drift report of each run's hours (at least the trailing day)."""

import base64

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.partitions import backfill_policy, hourly_partitions, windows_of
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.pipeline.report import WrittenReport, write_run_reports


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
    }
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
    def drift_report(
        context: dg.AssetExecutionContext, monitors: MonitorsResource, store: StoreResource
    ) -> dg.MaterializeResult:
        written = write_run_reports(monitors.load(), store.engine(), windows_of(context))
        for item in written:
            context.log.info(f"{item.report.title}: {item.report.status}, report {item.html}")
        metadata = report_metadata(written[-1])
        if len(written) > 1:
            metadata["reports"] = dg.MetadataValue.json([str(w.html) for w in written])
        return dg.MaterializeResult(metadata=metadata)

    return drift_report
