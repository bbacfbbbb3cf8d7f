"""The report's segments, read from the store: each segment's stored hourly drift of the
period beside the population's (the worst hour of each column and metric, and the hours that
drifted) and its performance averaged over the period's hours weighted by labelled rows, as
the report averages the population's. Nothing is recomputed: the numbers are the store's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Engine, func, select

from monitoring_pipelines.report.segments import SegmentRow, SegmentView, ratio, worst_of
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.drift import read_drift_scores, stored_result
from monitoring_pipelines.store.performance import REALIZED
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc


def segment_views(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    hours: Collection[datetime] | None = None,
) -> tuple[SegmentView, ...]:
    """Every segment with stored hourly drift in ``[start, end)`` (of ``hours`` only, when
    given), in name order; empty for a deployment without segments."""
    keep = None if hours is None else {utc(h) for h in hours}
    by: dict[str, dict[tuple[str, str], list[tuple[datetime, DriftResult]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    notes: dict[str, dict] = {}
    for row in read_drift_scores(engine, deployment_id, start, end, "hour", segment=None):
        if keep is not None and row["window_start"] not in keep:
            continue
        result = stored_result(row)
        segment = row["segment"]
        by[segment][(row["column_name"], row["metric"])].append((row["window_start"], result))
        if segment != ALL and row["detail"]:
            notes.setdefault(segment, row["detail"])
    population = by.get(ALL, {})
    performance = _performance(engine, deployment_id, start, end, keep)
    views = []
    for segment in sorted(s for s in by if s != ALL):
        mine = by[segment]
        rows = [
            SegmentRow(*key, worst_of(results), worst_of(population.get(key, [])))
            for key, results in mine.items()
        ]
        rows.sort(key=lambda r: (-_rank(r), r.column, r.metric))
        scored = {hour for results in mine.values() for hour, _ in results}
        note = notes.get(segment, {})
        views.append(
            SegmentView(
                segment,
                len(scored),
                tuple(rows),
                note.get("baseline"),
                bool(note.get("new_segment")),
                performance.get(segment, {}),
                performance.get(ALL, {}),
            )
        )
    return tuple(views)


def _rank(row: SegmentRow) -> float:
    result = row.segment.result
    return -float("inf") if result is None else ratio(result)


def _performance(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    hours: set[datetime] | None,
) -> dict[str, dict[str, float]]:
    """Segment → each realized metric of the period, averaged over its hours weighted by
    their labelled rows (the population's under ``__all__``)."""
    table = model_performance.c
    weighted = func.sum(table.value * table.n_labelled) / func.nullif(func.sum(table.n_labelled), 0)
    query = (
        select(table.segment, table.metric, weighted.label("value"))
        .where(
            table.deployment_id == deployment_id,
            table.kind == REALIZED,
            table.window_start >= utc(start),
            table.window_start < utc(end),
            table.value.is_not(None),
            *([table.window_start.in_(sorted(hours))] if hours is not None else []),
        )
        .group_by(table.segment, table.metric)
        .order_by(table.segment, table.metric)
    )
    out: dict[str, dict[str, float]] = defaultdict(dict)
    with engine.connect() as conn:
        for segment, metric, value in conn.execute(query):
            if value is not None:
                out[segment][metric] = float(value)
    return dict(out)
