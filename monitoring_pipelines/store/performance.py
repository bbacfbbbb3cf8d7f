"""``model_performance`` writes and reads: one row per metric of a window, replaced per partition.

A window's rows share ``kind`` (``realized`` from labels), ``status``, ``n_scored``,
``n_labelled`` and ``labels_through`` (labels that arrived before it were joined). Numbers
are rows with a ``value``; the confusion matrix, per-class metrics and the latency sketch
are rows whose ``details`` hold them (``value`` null).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import Performance
from monitoring_pipelines.store.partitions import replace_partition
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc
from monitoring_pipelines.store.windows import Window

REALIZED = "realized"
LATENCY_QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}


@dataclass(frozen=True)
class StoredWindow:
    """A stored window's counts and the labels cutoff it was computed with."""

    window_start: datetime
    status: str | None
    n_scored: int | None
    n_labelled: int
    labels_through: datetime | None


def performance_rows(performance: Performance, latency: LatencySketch) -> list[dict[str, Any]]:
    """The metric rows of one window (without the partition key)."""
    rows: list[dict[str, Any]] = [
        {"metric": name, "value": value} for name, value in sorted(performance.metrics.items())
    ]
    rows.append({"metric": "labelled_share", "value": performance.labelled_share})
    if performance.confusion:
        rows.append(
            {
                "metric": "confusion_matrix",
                "details": {"classes": list(performance.classes), "matrix": performance.confusion},
            }
        )
        rows.append({"metric": "per_class", "details": performance.per_class})
    if latency.count:
        rows += [
            {"metric": name, "value": latency.quantile(q)} for name, q in LATENCY_QUANTILES.items()
        ]
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
) -> int:
    """Replace the window's realized rows and record the window for the sensors."""
    common = {
        "window_end": utc(end),
        "status": performance.status,
        "n_scored": performance.rows_scored,
        "n_labelled": performance.labelled_rows,
        "labels_through": utc(labels_through) if labels_through else None,
        "computed_at": datetime.now(UTC),
    }
    rows = [
        {"value": None, "details": None, **common, **row}
        for row in performance_rows(performance, latency)
    ]
    key = {"deployment_id": deployment_id, "window_start": utc(start), "kind": REALIZED}
    window = Window(deployment_id, "hour", utc(start), utc(end))
    return replace_partition(engine, model_performance, key, rows, window=window)


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
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> Iterator[tuple[datetime, str, float]]:
    """(window start, metric, value) of the realized numbers in ``[start, end)``."""
    table = model_performance.c
    query = (
        select(table.window_start, table.metric, table.value)
        .where(
            table.deployment_id == deployment_id,
            table.kind == REALIZED,
            table.value.is_not(None),
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
