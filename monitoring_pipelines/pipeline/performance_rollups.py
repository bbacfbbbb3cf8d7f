"""Rolled-up performance windows (trailing 24 h, day, week) merged from the stored hours.

As drift windows are: nothing is re-read from the logs. Realized classification metrics come
from the summed confusion matrices (exact: accuracy, precision, recall, F1 per class and
macro), log loss from the hours' means weighted by the rows each was computed on (exact;
binary and multiclass); ROC AUC (binary, and multiclass one-vs-rest) is a rank statistic
and is not merged (it needs the rows). Regression sums merge exactly (RMSE, MAE, R², mean
error). Latency percentiles come from the merged sketch (relative error α), the CBPE
estimate from the merged per-bin sums (exact; hours estimated with an older baseline
version's score bins are left out). Computed when asked, from what is stored, so
a rolled-up window follows its hours as late labels recompute them. Each segment's window
is merged from that segment's hours alone, in the same way (``rolled_up_segments``); a
segment's log loss is merged only when each of its hours had enough labels to state one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import reduce

from sqlalchemy import Engine, select

from monitoring_pipelines.config import DeploymentConfig
from monitoring_pipelines.pipeline.performance_segments import INSUFFICIENT_DATA
from monitoring_pipelines.stats.cbpe import CbpeAggregate, Estimate, estimate
from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import Performance, accumulator
from monitoring_pipelines.stats.scoring import DEFAULT_MIN_ROWS
from monitoring_pipelines.stats.segment_scoring import key_of
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.stats.windows import window_bounds
from monitoring_pipelines.store.performance import (
    CBPE_AGGREGATE,
    ESTIMATED,
    REALIZED,
    REGRESSION_STATE,
)
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc

READ = ("confusion_matrix", "log_loss", REGRESSION_STATE, "latency_sketch", CBPE_AGGREGATE)


@dataclass(frozen=True)
class RolledUp:
    """A rolled-up window: realized performance, latency, and the merged CBPE estimate (of
    the population, or of one ``segment``: its own hours' rows; no estimate)."""

    deployment_id: str
    granularity: str
    start: datetime
    end: datetime
    hours: int
    performance: Performance | None
    latency: LatencySketch
    estimated: dict[str, Estimate]
    segment: str = ALL


def rolled_up(
    engine: Engine,
    deployment: DeploymentConfig,
    granularity: str,
    hour: datetime,
    segment: str = ALL,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> RolledUp:
    """The ``granularity`` window containing (trailing 24 h: ending with) the hour ``hour``,
    of the population or of ``segment`` (``min_rows`` as in :func:`rolled_up_segments`)."""
    windows = rolled_up_segments(engine, deployment, granularity, hour, segment, min_rows)
    if segment in windows:
        return windows[segment]
    start, end = window_bounds(hour, granularity)
    return _rolled(deployment, granularity, start, end, segment, [])


def rolled_up_segments(
    engine: Engine,
    deployment: DeploymentConfig,
    granularity: str,
    hour: datetime,
    segment: str | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> dict[str, RolledUp]:
    """The ``granularity`` window of the population and of every segment stored in it
    (segment → window; only ``segment`` when given), each merged from its own hours; a
    segment with fewer labelled rows than its key's ``min_rows`` (else ``min_rows``, the
    deployment's) is ``insufficient_data``, as its hours are."""
    start, end = window_bounds(hour, granularity)
    table = model_performance.c
    query = select(
        table.segment, table.window_start, table.kind, table.metric, table.value, table.details,
        table.n_labelled, table.n_scored,
    ).where(
        table.deployment_id == deployment.id,
        table.kind.in_((REALIZED, ESTIMATED)),
        table.metric.in_(READ),
        table.window_start >= utc(start),
        table.window_start < utc(end),
    )  # fmt: skip
    if segment is not None:
        query = query.where(table.segment == segment)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    by_segment: dict[str, list] = {}
    for row in rows:
        by_segment.setdefault(row.segment, []).append(row)
    windows = {
        name: _rolled(deployment, granularity, start, end, name, part)
        for name, part in sorted(by_segment.items())
    }
    for name, window in windows.items():
        key = key_of(name, deployment.segment_keys) if name != ALL else None
        performance = window.performance
        need = (key.min_rows or min_rows) if key else 0
        if performance is not None and performance.labelled_rows < need:
            thin = replace(performance, status=INSUFFICIENT_DATA, metrics={}, per_class={})
            windows[name] = replace(window, performance=thin)
    return windows


def _rolled(
    deployment: DeploymentConfig,
    granularity: str,
    start: datetime,
    end: datetime,
    segment: str,
    rows: list,
) -> RolledUp:
    labels = deployment.labels
    acc = accumulator(labels.task, labels.positive_class) if labels else None
    latency, parts = LatencySketch(), []
    scored: dict[datetime, int] = {}
    # log loss weighted by the rows it was computed on (a multiclass hour stores them: rows
    # with unusable probabilities are left out); defined when every labelled hour has one
    log_loss, log_loss_rows, log_loss_labelled = 0.0, 0, 0
    for row in rows:
        if row.kind == REALIZED:
            scored[row.window_start] = int(row.n_scored or 0)
        if row.metric == "confusion_matrix" and acc is not None:
            acc.add_confusion(row.details["classes"], row.details["matrix"])
        elif row.metric == REGRESSION_STATE and acc is not None:
            acc.merge_state(row.details)
        elif row.metric == "log_loss":
            rows_used = int((row.details or {}).get("rows", row.n_labelled))
            log_loss += float(row.value) * rows_used
            log_loss_rows += rows_used
            log_loss_labelled += int(row.n_labelled)
        elif row.metric == "latency_sketch":
            latency = latency.merge(LatencySketch.from_json(row.details))
        elif row.metric == CBPE_AGGREGATE:
            parts.append((row.window_start, CbpeAggregate.from_json(row.details)))
    performance = acc.result(sum(scored.values())) if acc is not None else None
    if (
        performance is not None
        and log_loss_labelled == performance.labelled_rows > 0 < log_loss_rows
    ):
        performance.metrics["log_loss"] = log_loss / log_loss_rows
    estimated = estimate(_merged(parts)) if parts else {}
    return RolledUp(
        deployment.id, granularity, start, end, len(scored), performance, latency, estimated,
        segment,
    )  # fmt: skip


def _merged(parts: list[tuple[datetime, CbpeAggregate]]) -> CbpeAggregate:
    """The hours estimated on the newest hour's score bins (a baseline version fitted since
    an older hour has other bins: that hour stays out)."""
    parts.sort(key=lambda item: item[0])
    newest = parts[-1][1]
    kept = [part for _, part in parts if part.edges == newest.edges]
    return reduce(CbpeAggregate.merge, kept)
