"""A deployment's drift report for a range of hours, from the stored aggregates and hourly
drift scores only (no raw rows are read): the period is the exact merge of its hours, scored
with the deployment's drift settings, as the pipeline scores a rolled-up window."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.pipeline.drift import on_baseline, score_profile, signals_of
from monitoring_pipelines.pipeline.report_segments import segment_views
from monitoring_pipelines.report.charts import distribution
from monitoring_pipelines.report.html import render_html
from monitoring_pipelines.report.model import DriftReport, HourScores
from monitoring_pipelines.report.vega import to_png
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.stats.windows import merge_window
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import check_deployment_id, dagster_home
from monitoring_pipelines.store.multivariate import read_model
from monitoring_pipelines.store.performance import REALIZED
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class NoDataError(LookupError):
    """The report needs a baseline and at least one stored hour in the range."""


def build_report(
    config: MonitorsConfig, engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> DriftReport:
    """The report of ``start <= hour < end`` for one deployment."""
    check_deployment_id(deployment_id)
    deployment = config.deployment(deployment_id)
    if not start < end:
        raise ValueError(f"the report's start {start:%Y-%m-%d %H:%M} is not before its end")
    baseline = read_baseline(engine, deployment_id)
    if baseline is None:
        raise NoDataError(f"deployment {deployment_id!r} has no baseline_statistics yet")
    hourly = on_baseline(read_windows(engine, deployment_id, start, end, baseline), baseline, set())
    current = merge_window(hourly, start, end)
    if current is None:
        raise NoDataError(
            f"deployment {deployment_id!r} has no hourly_aggregates from "
            f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        )
    return DriftReport(
        title=deployment_id,
        baseline=baseline,
        current=current,
        scores=score_profile(
            config, deployment, baseline, current, model=read_model(engine, deployment_id)[0]
        ),
        start=utc(start),
        end=utc(end),
        history=hourly_history(engine, deployment_id, start, end),
        signals=signals_of(deployment, baseline, current),
        performance=period_performance(engine, deployment_id, start, end),
        segments=segment_views(engine, deployment_id, start, end),
    )


def hourly_history(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> list[HourScores]:
    """The stored hourly drift results of the range, oldest first."""
    by_hour: dict[datetime, dict[str, list[DriftResult]]] = defaultdict(lambda: defaultdict(list))
    for row in read_drift_scores(engine, deployment_id, start, end, "hour"):
        by_hour[row["window_start"]][row["column_name"]].append(
            DriftResult(
                metric=row["metric"],
                value=row["value"],
                p_value=row["p_value"],
                threshold=row["threshold"],
                status=row["status"],
                drifted=row["drifted"],
                reference_size=row["reference_size"],
                current_size=row["current_size"],
            )
        )
    return [HourScores(hour, dict(columns)) for hour, columns in sorted(by_hour.items())]


def period_performance(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> dict[str, float]:
    """Each stored performance metric of the range, averaged over its windows weighted by
    their labelled rows (empty until labels have arrived)."""
    table = model_performance.c
    weighted = func.sum(table.value * table.n_labelled) / func.nullif(func.sum(table.n_labelled), 0)
    query = (
        select(table.metric, weighted.label("value"))
        .where(
            table.deployment_id == deployment_id,
            table.segment == ALL,
            table.kind == REALIZED,
            table.window_start >= utc(start),
            table.window_start < utc(end),
            table.value.is_not(None),
        )
        .group_by(table.metric)
        .order_by(table.metric)
    )
    with engine.connect() as conn:
        return {m: float(v) for m, v in conn.execute(query) if v is not None}


@dataclass(frozen=True)
class WrittenReport:
    """Where a report went, and the small PNG of its top drifted column (if any drifted)."""

    html: Path
    png: Path | None
    report: DriftReport


def report_path(deployment_id: str, start: datetime, end: datetime) -> Path:
    """``$DAGSTER_HOME/reports/<deployment>/<start>_<end>.html`` (UTC, to the hour)."""
    name = f"{utc(start):%Y%m%dT%H}_{utc(end):%Y%m%dT%H}.html"
    return dagster_home() / "reports" / deployment_id / name


def write_report(report: DriftReport, path: Path, *, png: bool = True) -> WrittenReport:
    """Write the HTML (and, when a column drifted and ``png``, ``<path>.png`` of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    image = None
    top = report.top_drifted()
    if png and top is not None:
        spec = distribution(top, report.baseline.columns[top], report.current.columns[top])
        image = path.with_suffix(".png")
        image.write_bytes(to_png(spec))
    return WrittenReport(path, image, report)


def run_report_periods(windows: list[tuple[str, datetime]]) -> dict[str, tuple[datetime, datetime]]:
    """Per deployment of a run, the period its report covers: the run's hours, extended back
    to the trailing 24 hours when the run is shorter (an hourly run reports its last day)."""
    periods: dict[str, tuple[datetime, datetime]] = {}
    for deployment_id, hour in windows:
        first, last = periods.get(deployment_id, (hour, hour))
        periods[deployment_id] = (min(first, hour), max(last, hour))
    return {
        deployment_id: (min(first, last + HOUR - DAY), last + HOUR)
        for deployment_id, (first, last) in periods.items()
    }


def write_run_reports(
    config: MonitorsConfig, engine: Engine, windows: list[tuple[str, datetime]]
) -> dict[str, WrittenReport]:
    """The report of each deployment of a run (by deployment), under ``$DAGSTER_HOME/reports``."""
    written = {}
    for deployment_id, (start, end) in sorted(run_report_periods(windows).items()):
        report = build_report(config, engine, deployment_id, start, end)
        written[deployment_id] = write_report(report, report_path(deployment_id, start, end))
    return written
