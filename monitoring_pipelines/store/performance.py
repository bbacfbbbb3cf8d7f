"""``model_performance`` writes and reads: one row per metric of a window, replaced per partition.

A window's rows share ``kind`` (``realized`` from labels), ``status``, ``n_scored``,
``n_labelled`` and ``labels_through`` (labels that arrived before it were joined). Numbers
are rows with a ``value``; the confusion matrix, per-class metrics and the latency sketch
are rows whose ``details`` hold them (``value`` null). A realized window compared with a
baseline also has a ``vs_baseline`` row: its judged metric minus the baseline's.

The baseline (kind ``baseline``) is the performance on the deployment's validation set, one
version per ``baseline_statistics`` run: its rows have ``window_start = window_end`` = the
version's time, and older versions are kept (never replaced), so every one stays queryable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from monitoring_pipelines.stats.cbpe import CbpeAggregate, estimate, row_sd
from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import OK, Performance, primary_metric
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.partitions import replace_partition
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc
from monitoring_pipelines.store.windows import Window

REALIZED = "realized"
ESTIMATED = "estimated"
REGRESSION_STATE = "regression_state"
LABELS_MATCHED = "labels_matched"
UNKNOWN_LABELS = "labels_unknown_request_id"
PROBABILITIES_EXCLUDED = "probabilities_excluded"
BASELINE = "baseline"
VS_BASELINE = "vs_baseline"
LATENCY_QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}


@dataclass(frozen=True)
class StoredWindow:
    """A stored window's counts and the labels cutoff it was computed with."""

    window_start: datetime
    status: str | None
    n_scored: int | None
    n_labelled: int
    labels_through: datetime | None


@dataclass(frozen=True)
class BaselinePerformance:
    """One version of a deployment's baseline performance (its validation set's numbers)."""

    version: datetime
    n_labelled: int
    metrics: dict[str, float]
    details: dict[str, Any]


def performance_rows(
    performance: Performance, latency: LatencySketch, quantiles: bool = True
) -> list[dict[str, Any]]:
    """The metric rows of one window (without the partition key); without ``quantiles``,
    the latency sketch but not its percentiles (a segment with too few rows)."""
    rows: list[dict[str, Any]] = [
        {"metric": name, "value": value} for name, value in sorted(performance.metrics.items())
    ]
    counts = performance.probability_rows
    if counts:
        # ROC AUC and log loss rest on the rows whose score or probabilities were usable:
        # the rolled-up log loss weighs each hour's by them, not by its labelled rows
        for row in rows:
            if row["metric"] in ("roc_auc", "roc_auc_macro", "log_loss"):
                row["details"] = {"rows": counts["used"]}
        excluded = sum(v for k, v in counts.items() if k != "used")
        rows.append({"metric": PROBABILITIES_EXCLUDED, "value": float(excluded), "details": counts})
    rows.append({"metric": "labelled_share", "value": performance.labelled_share})
    if performance.confusion:
        rows.append(
            {
                "metric": "confusion_matrix",
                "details": {"classes": list(performance.classes), "matrix": performance.confusion},
            }
        )
        rows.append({"metric": "per_class", "details": performance.per_class})
    if performance.state:
        rows.append({"metric": REGRESSION_STATE, "details": performance.state})
    if latency.count and quantiles:
        rows += [
            {"metric": name, "value": latency.quantile(q)} for name, q in LATENCY_QUANTILES.items()
        ]
    if latency.count:
        rows.append({"metric": "latency_sketch", "details": latency.to_json()})
    return rows


def write_performance(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    performance: Performance,
    latency: LatencySketch,
    labels_through: datetime | None,
    baseline: BaselinePerformance | None = None,
    labels: dict[str, Any] | None = None,
    *,
    segments: Mapping[str, Any] | None = None,
) -> int:
    """Replace the window's realized rows and record the window for the sensors; with a
    ``baseline``, add the window's ``vs_baseline`` row; with ``labels`` (the label rows it
    matched per arrival hour, and the account of its own arrival hour), their rows; with
    ``segments`` (segment → ``SegmentPerformance``), every segment's rows, in the same
    transaction (its ``vs_baseline`` against the population's baseline)."""
    computed = datetime.now(UTC)

    def common(of: Performance, segment: str) -> dict[str, Any]:
        return {
            "window_end": utc(end),
            "status": of.status,
            "n_scored": of.rows_scored,
            "n_labelled": of.labelled_rows,
            "labels_through": utc(labels_through) if labels_through else None,
            "computed_at": computed,
            "segment": segment,
        }

    rows = [
        {"value": None, "details": None, **common(performance, ALL), **row}
        for row in performance_rows(performance, latency)
        + versus_rows(performance, baseline)
        + label_rows(labels)
    ]
    for segment, part in (segments or {}).items():
        of = part.performance
        rows += [
            {"value": None, "details": None, **common(of, segment), **row}
            for row in performance_rows(of, part.latency, quantiles=part.judged)
            + versus_rows(of, baseline)
        ]
    key = {"deployment_id": deployment_id, "window_start": utc(start), "kind": REALIZED}
    window = Window(deployment_id, "hour", utc(start), utc(end))
    return replace_partition(engine, model_performance, key, rows, window=window)


def label_rows(labels: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ``labels_matched`` histogram and the ``labels_unknown_request_id`` count."""
    if not labels:
        return []
    account = labels["account"]
    return [
        {"metric": LABELS_MATCHED, "details": labels["matched"]},
        {
            "metric": UNKNOWN_LABELS,
            "value": float(account.unknown),
            "details": {
                "arrived": account.arrived,
                "matched": account.matched,
                "complete": account.complete,
            },
        },
    ]


def versus_rows(
    performance: Performance, baseline: BaselinePerformance | None
) -> list[dict[str, Any]]:
    """The ``vs_baseline`` row: the judged metric minus the baseline's (none without both)."""
    if baseline is None or performance.task is None:
        return []
    metric = primary_metric(performance.task)
    if metric not in performance.metrics or metric not in baseline.metrics:
        return []
    reference = baseline.metrics[metric]
    details = {"metric": metric, "baseline": reference, "version": baseline.version.isoformat()}
    return [
        {
            "metric": VS_BASELINE,
            "value": performance.metrics[metric] - reference,
            "details": details,
        }
    ]


CBPE_AGGREGATE = "cbpe_aggregate"
CBPE_REFERENCE = "cbpe_reference"


def write_estimated(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    aggregate: CbpeAggregate,
) -> int:
    """Replace the window's estimated rows (kind ``estimated``): each CBPE metric with its
    band in ``details``, and the mergeable per-bin sums they came from."""
    estimates = estimate(aggregate)
    common = {
        "window_end": utc(end),
        "status": OK if estimates else "no_rows",
        "n_scored": aggregate.rows,
        "n_labelled": 0,
        "labels_through": None,
        "computed_at": datetime.now(UTC),
    }
    details = {"row_sd": row_sd(aggregate)}
    rows = [
        {**common, "metric": name, "value": e.value, "details": e.to_json() | details}
        for name, e in sorted(estimates.items())
    ]
    rows.append({**common, "metric": CBPE_AGGREGATE, "value": None, "details": aggregate.to_json()})
    key = {"deployment_id": deployment_id, "window_start": utc(start), "kind": ESTIMATED}
    return replace_partition(engine, model_performance, key, rows)


def write_baseline_performance(
    engine: Engine,
    deployment_id: str,
    version: datetime,
    performance: Performance,
    extra: dict[str, dict[str, Any]] | None = None,
) -> int:
    """Store a new baseline version (older versions stay); ``extra`` adds detail rows
    (metric → details), e.g. the calibration fitted on the same rows."""
    common = {
        "window_end": utc(version),
        "status": performance.status,
        "n_scored": performance.rows_scored,
        "n_labelled": performance.labelled_rows,
        "labels_through": None,
        "computed_at": datetime.now(UTC),
    }
    rows = performance_rows(performance, LatencySketch()) + [
        {"metric": metric, "details": details} for metric, details in (extra or {}).items()
    ]
    rows = [{"value": None, "details": None, **common, **row} for row in rows]
    key = {"deployment_id": deployment_id, "window_start": utc(version), "kind": BASELINE}
    return replace_partition(engine, model_performance, key, rows)


def baseline_versions(engine: Engine, deployment_id: str) -> list[datetime]:
    """The times of the deployment's baseline versions, oldest first."""
    table = model_performance.c
    query = (
        select(table.window_start)
        .where(table.deployment_id == deployment_id, table.segment == ALL, table.kind == BASELINE)
        .distinct()
        .order_by(table.window_start)
    )
    with engine.connect() as conn:
        return [utc(moment) for moment in conn.execute(query).scalars()]


def read_baseline_performance(
    engine: Engine, deployment_id: str, version: datetime | None = None
) -> BaselinePerformance | None:
    """A baseline version (default: the latest), or None when there is none."""
    versions = baseline_versions(engine, deployment_id)
    if version is None and versions:
        version = versions[-1]
    if version is None or utc(version) not in versions:
        return None
    table = model_performance.c
    query = select(table.metric, table.value, table.details, table.n_labelled).where(
        table.deployment_id == deployment_id,
        table.segment == ALL,
        table.kind == BASELINE,
        table.window_start == utc(version),
    )
    metrics, details, n_labelled = {}, {}, 0
    with engine.connect() as conn:
        for row in conn.execute(query):
            n_labelled = int(row.n_labelled)
            if row.value is not None:
                metrics[row.metric] = float(row.value)
            elif row.details is not None:
                details[row.metric] = row.details
    return BaselinePerformance(utc(version), n_labelled, metrics, details)


def stored_windows(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> dict[datetime, StoredWindow]:
    """The realized windows starting in ``[start, end)``: counts and labels cutoff."""
    table = model_performance.c
    query = (
        select(
            table.window_start, table.status, table.n_scored, table.n_labelled, table.labels_through
        )
        .where(
            table.deployment_id == deployment_id,
            table.segment == ALL,
            table.kind == REALIZED,
            table.metric == "labelled_share",
            table.window_start >= utc(start),
            table.window_start < utc(end),
        )
        .order_by(table.window_start)
    )
    with engine.connect() as conn:
        return {
            utc(row.window_start): StoredWindow(
                utc(row.window_start),
                row.status,
                row.n_scored,
                row.n_labelled,
                utc(row.labels_through) if row.labels_through else None,
            )
            for row in conn.execute(query)
        }


def window_values(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    kind: str = REALIZED,
    min_labelled: int = 0,
) -> Iterator[tuple[datetime, str, float]]:
    """(window start, metric, value) of the ``kind`` (realized) numbers in ``[start, end)``,
    of windows with at least ``min_labelled`` labelled rows."""
    table = model_performance.c
    query = (
        select(table.window_start, table.metric, table.value)
        .where(
            table.deployment_id == deployment_id,
            table.segment == ALL,
            table.kind == kind,
            table.value.is_not(None),
            table.n_labelled >= min_labelled,
            table.window_start >= utc(start),
            table.window_start < utc(end),
        )
        .order_by(table.window_start, table.metric)
    )
    with engine.connect() as conn:
        for row in conn.execute(query):
            yield utc(row.window_start), row.metric, float(row.value)


def merged_latency(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> LatencySketch | None:
    """The latency sketch of ``[start, end)`` merged from its hours (None when none stored)."""
    table = model_performance.c
    query = select(table.details).where(
        table.deployment_id == deployment_id,
        table.segment == ALL,
        table.kind == REALIZED,
        table.metric == "latency_sketch",
        table.window_start >= utc(start),
        table.window_start < utc(end),
    )
    with engine.connect() as conn:
        sketches = [LatencySketch.from_json(d) for d in conn.execute(query).scalars()]
    if not sketches:
        return None
    merged = sketches[0]
    for sketch in sketches[1:]:
        merged = merged.merge(sketch)
    return merged


@dataclass(frozen=True)
class WindowPerformance:
    """One stored hour as judges read it: realized and estimated values, labels, baseline
    (of the population, or of one ``segment``: realized values only)."""

    deployment_id: str
    window_start: datetime
    window_end: datetime
    realized: dict[str, float]
    estimated: dict[str, float]
    n_labelled: int
    labels_through: datetime | None
    baseline: float | None
    segment: str = ALL
    status: str | None = None


def read_window_performance(
    engine: Engine, deployment_id: str, start: datetime
) -> WindowPerformance | None:
    """The hour starting at ``start`` (realized and estimated rows), or None if not stored."""
    return read_window_segments(engine, deployment_id, start).get(ALL)


def read_window_segments(
    engine: Engine, deployment_id: str, start: datetime
) -> dict[str, WindowPerformance]:
    """The hour starting at ``start`` of the population and of every segment (segment →
    window; empty if not stored)."""
    table = model_performance.c
    query = select(
        table.segment,
        table.kind,
        table.metric,
        table.value,
        table.details,
        table.status,
        table.n_labelled,
        table.labels_through,
        table.window_end,
    ).where(
        table.deployment_id == deployment_id,
        table.window_start == utc(start),
        table.kind.in_((REALIZED, ESTIMATED)),
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    by_segment: dict[str, list[Any]] = {}
    for row in rows:
        by_segment.setdefault(row.segment, []).append(row)
    return {
        segment: _window_of(deployment_id, start, segment, part)
        for segment, part in sorted(by_segment.items())
    }


def _window_of(deployment_id: str, start: datetime, segment: str, rows) -> WindowPerformance:
    values: dict[str, dict[str, float]] = {REALIZED: {}, ESTIMATED: {}}
    n_labelled, through, end, baseline = 0, None, utc(rows[0].window_end), None
    status = None
    for row in rows:
        if row.kind == REALIZED:
            n_labelled = int(row.n_labelled)
            through = utc(row.labels_through) if row.labels_through else None
            status = row.status
        if row.value is not None:
            values[row.kind][row.metric] = float(row.value)
        if row.metric == VS_BASELINE and row.details:
            baseline = float(row.details["baseline"])
    return WindowPerformance(
        deployment_id,
        utc(start),
        end,
        values[REALIZED],
        values[ESTIMATED],
        n_labelled,
        through,
        baseline,
        segment,
        status,
    )
