"""``drift_scores`` rows: write one window's results idempotently, read them back by time
range, and read "new since id X" for a sensor cursor.

A partition is (deployment, window start, granularity): re-running it replaces its
rows in one transaction, so the rewritten rows get new ids and a cursor sees them
as new.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.windows import GRANULARITIES
from monitoring_pipelines.store.aggregates import utc
from monitoring_pipelines.store.engine import check_deployment_id
from monitoring_pipelines.store.partitions import replace_partition
from monitoring_pipelines.store.schema import drift_scores


def write_drift_scores(
    engine: Engine,
    deployment_id: str,
    window_start: datetime,
    window_end: datetime,
    granularity: str,
    scores: Mapping[str, Sequence[DriftResult]],
) -> int:
    """Replace the rows of one window (column → results); returns the number written."""
    check_deployment_id(deployment_id)
    _check_granularity(granularity)
    key = {
        "deployment_id": deployment_id,
        "window_start": utc(window_start),
        "granularity": granularity,
    }
    now = datetime.now(UTC)
    rows = [
        {
            "window_end": utc(window_end),
            "column_name": column,
            "metric": r.metric,
            "value": _number(r.value),
            "p_value": _number(r.p_value),
            "threshold": _number(r.threshold),
            "status": r.status,
            "drifted": bool(r.drifted),
            "reference_size": int(r.reference_size),
            "current_size": int(r.current_size),
            "detail": _json_safe(r.detail) or None,
            "computed_at": now,
        }
        for column, results in scores.items()
        for r in results
    ]
    return replace_partition(engine, drift_scores, key, rows)


def read_drift_scores(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    granularity: str | None = None,
) -> list[dict[str, Any]]:
    """Rows with ``start <= window_start < end``, oldest window first, UTC datetimes."""
    query = select(drift_scores).where(
        drift_scores.c.deployment_id == deployment_id,
        drift_scores.c.window_start >= utc(start),
        drift_scores.c.window_start < utc(end),
    )
    if granularity is not None:
        query = query.where(drift_scores.c.granularity == _check_granularity(granularity))
    return _fetch(engine, query.order_by(drift_scores.c.window_start, drift_scores.c.id))


def read_drift_scores_since(
    engine: Engine,
    after_id: int,
    deployment_id: str | None = None,
    limit: int | None = None,
    *,
    up_to_id: int | None = None,
    granularity: str | None = None,
    with_detail: bool = True,
) -> list[dict[str, Any]]:
    """Rows with ``after_id < id <= up_to_id`` in id order (a sensor's cursor is the last id
    it saw); ``with_detail=False`` skips decoding the JSON ``detail`` column."""
    columns = [c for c in drift_scores.c if with_detail or c.name != "detail"]
    query = select(*columns).where(drift_scores.c.id > after_id)
    if up_to_id is not None:
        query = query.where(drift_scores.c.id <= up_to_id)
    if deployment_id is not None:
        query = query.where(drift_scores.c.deployment_id == deployment_id)
    if granularity is not None:
        query = query.where(drift_scores.c.granularity == _check_granularity(granularity))
    query = query.order_by(drift_scores.c.id)
    return _fetch(engine, query if limit is None else query.limit(limit))


def last_drift_score_id(engine: Engine) -> int:
    """The newest ``drift_scores`` id, 0 when the table is empty."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(drift_scores.c.id))).scalar_one() or 0


def _fetch(engine: Engine, query) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            **row,
            "window_start": utc(row["window_start"]),
            "window_end": utc(row["window_end"]),
            "computed_at": utc(row["computed_at"]),
        }
        for row in rows
    ]


def _check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r} (valid: {', '.join(GRANULARITIES)})")
    return granularity


def _number(value: float | None) -> float | None:
    """Floats for the database; NaN and ±inf (which JSON and some drivers reject) become None."""
    return None if value is None or not math.isfinite(value) else float(value)


def _json_safe(value: Any) -> Any:
    """Detail as plain JSON: numpy scalars to Python numbers, non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return _number(float(value))
