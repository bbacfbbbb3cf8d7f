"""A deployment's drift report for a range of hours, from the stored aggregates and hourly
drift scores only (no raw rows are read): the period is the exact merge of its hours, scored
with the deployment's drift settings, as the pipeline scores a rolled-up window."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.pipeline.drift import on_baseline, score_profile, signals_of
from monitoring_pipelines.pipeline.report_segments import segment_views
from monitoring_pipelines.report.charts import distribution
from monitoring_pipelines.report.html import render_html
from monitoring_pipelines.report.model import (
    BaselineVersion,
    DriftReport,
    HourScores,
    Report,
    SplitReport,
    top_drifted,
)
from monitoring_pipelines.report.vega import to_png
from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.stats.windows import merge_window
from monitoring_pipelines.store.aggregates import baseline_timestamps, read_baseline, read_windows
from monitoring_pipelines.store.drift import read_drift_scores, stored_result
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
) -> Report:
    """The report of ``start <= hour < end`` for one deployment, each hour judged against the
    baseline version it was profiled on: a :class:`DriftReport` when that is one version, a
    :class:`SplitReport` (one part per version, oldest first) when the range spans a
    retraining. An hour's version is the newest one whose bin edges it was counted on."""
    check_deployment_id(deployment_id)
    deployment = config.deployment(deployment_id)
    if not start < end:
        raise ValueError(f"the report's start {start:%Y-%m-%d %H:%M} is not before its end")
    versions = baseline_timestamps(engine, deployment_id)
    if not versions:
        raise NoDataError(f"deployment {deployment_id!r} has no baseline_statistics yet")
    parts, unmatched = version_parts(engine, deployment_id, start, end, versions)
    if not parts:
        on_none = (
            f" on any stored baseline version's bins ({unmatched} on none)" if unmatched else ""
        )
        raise NoDataError(
            f"deployment {deployment_id!r} has no hourly_aggregates from "
            f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC{on_none}"
        )
    notes = (
        [f"{unmatched} stored hours of the range were counted on the bins of no stored baseline "
         "version and are left out"]
        if unmatched
        else []
    )  # fmt: skip
    model = read_model(engine, deployment_id)[0]
    history = hourly_history(engine, deployment_id, start, end)
    reports = []
    for index, (version, baseline, hourly) in enumerate(parts):
        first = utc(start) if index == 0 else min(hourly)
        last = utc(end) if index == len(parts) - 1 else max(hourly) + HOUR
        part_notes = []
        if not version.latest and model is not None:
            part_notes.append(
                f"the multivariate score is not re-scored against v{version.number}: its "
                "reconstruction model was replaced by the latest version's (the hourly "
                "__multivariate__ scores of the time are in drift_scores)"
            )
        current = merge_window(hourly, first, last)
        reports.append(
            DriftReport(
                title=deployment_id,
                baseline=baseline,
                current=current,
                scores=score_profile(
                    config, deployment, baseline, current, model=model if version.latest else None
                ),
                start=first,
                end=last,
                history=[h for h in history if h.start in hourly],
                signals=signals_of(deployment, baseline, current),
                performance=period_performance(engine, deployment_id, first, last, hourly),
                segments=segment_views(engine, deployment_id, first, last, hourly),
                version=version,
                hours=len(hourly),
                notes=tuple(part_notes if len(parts) > 1 else notes + part_notes),
            )
        )
    if len(reports) == 1:
        return reports[0]
    return SplitReport(deployment_id, utc(start), utc(end), tuple(reports), tuple(notes))


def version_parts(
    engine: Engine, deployment_id: str, start: datetime, end: datetime, versions: list[datetime]
) -> tuple[list[tuple[BaselineVersion, DatasetProfile, dict[datetime, DatasetProfile]]], int]:
    """The range's stored hours grouped by the baseline version they were counted on (newest
    matching version first, so a version refitted on the same edges takes its hours), as
    (version, its baseline, its hours) oldest first, and the number of hours on no version."""
    remaining: set[datetime] | None = None
    parts = []
    for number in range(len(versions), 0, -1):
        moment = versions[number - 1]
        baseline = read_baseline(engine, deployment_id, version=moment)
        if baseline is None:
            continue
        hours = read_windows(engine, deployment_id, start, end, baseline)
        if remaining is None:
            remaining = set(hours)
        mine = on_baseline({h: p for h, p in hours.items() if h in remaining}, baseline, set())
        remaining -= set(mine)
        if mine:
            version = BaselineVersion(number, moment, latest=number == len(versions))
            parts.append((version, baseline, mine))
        if not remaining:
            break
    return parts[::-1], len(remaining or ())


def hourly_history(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> list[HourScores]:
    """The stored hourly drift results of the range, oldest first."""
    by_hour: dict[datetime, dict[str, list[DriftResult]]] = defaultdict(lambda: defaultdict(list))
    for row in read_drift_scores(engine, deployment_id, start, end, "hour"):
        by_hour[row["window_start"]][row["column_name"]].append(stored_result(row))
    return [HourScores(hour, dict(columns)) for hour, columns in sorted(by_hour.items())]


def period_performance(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    hours: Collection[datetime] | None = None,
) -> dict[str, float]:
    """Each stored performance metric of the range (of its ``hours`` only, when given),
    averaged over its windows weighted by their labelled rows (empty until labels have
    arrived)."""
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
            *([table.window_start.in_(sorted(utc(h) for h in hours))] if hours is not None else []),
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
    report: Report


def report_path(deployment_id: str, start: datetime, end: datetime) -> Path:
    """``$DAGSTER_HOME/reports/<deployment>/<start>_<end>.html`` (UTC, to the hour)."""
    name = f"{utc(start):%Y%m%dT%H}_{utc(end):%Y%m%dT%H}.html"
    return dagster_home() / "reports" / deployment_id / name


def write_report(report: Report, path: Path, *, png: bool = True) -> WrittenReport:
    """Write the HTML (and, when a column drifted and ``png``, ``<path>.png`` of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    image = None
    top = top_drifted(report)
    if png and top is not None:
        part, column = top
        spec = distribution(column, part.baseline.columns[column], part.current.columns[column])
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
