"""``drift_scores`` rows: write one window's results idempotently, read them back by time
range, and read the windows committed after a sensor's cursor (``store.windows``).

A partition is (deployment, window start, granularity): re-running it replaces its rows in
one transaction and gives the window a new ``commit_seq``, so a judge sees it again. It holds
the rows of every reference the window was compared with (``reference``: training, and the
production references of ``stats.references``), so a judge sees them all at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, func, select

from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.references import TRAINING
from monitoring_pipelines.stats.result_table import ResultTable
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.stats.windows import GRANULARITIES
from monitoring_pipelines.store.bulk import JsonText
from monitoring_pipelines.store.engine import check_deployment_id
from monitoring_pipelines.store.partitions import Partition, replace_partitions
from monitoring_pipelines.store.schema import drift_scores, written_windows
from monitoring_pipelines.store.times import utc
from monitoring_pipelines.store.windows import KEY_COLUMNS, Window, window_rows


class DriftWindow(NamedTuple):
    """One window's results (against training, against each production reference, and of
    each segment against training) and the partition they replace."""

    deployment_id: str
    window_start: datetime
    window_end: datetime
    granularity: str
    scores: Mapping[str, Sequence[DriftResult]]
    references: Mapping[str, Mapping[str, Sequence[DriftResult]]] | None = None
    segments: Mapping[str, Mapping[str, Sequence[DriftResult]]] | None = None


ROW_COLUMNS = (
    "window_end",
    "reference",
    "column_name",
    "metric",
    "value",
    "p_value",
    "threshold",
    "status",
    "drifted",
    "reference_size",
    "current_size",
    "detail",
    "computed_at",
    "segment",
)  # a window's rows, as write_drift_windows builds them (the partition key added on insert)


def write_drift_scores(
    engine: Engine,
    deployment_id: str,
    window_start: datetime,
    window_end: datetime,
    granularity: str,
    scores: Mapping[str, Sequence[DriftResult]],
    references: Mapping[str, Mapping[str, Sequence[DriftResult]]] | None = None,
    segments: Mapping[str, Mapping[str, Sequence[DriftResult]]] | None = None,
) -> int:
    """Replace the rows of one window: ``scores`` (column → results) against the training
    baseline, ``references`` (reference name → column → results) against production
    references, ``segments`` (segment → column → results) of each segment against the
    training baseline, all in one transaction; returns the number written."""
    window = DriftWindow(
        deployment_id, window_start, window_end, granularity, scores, references, segments
    )
    return write_drift_windows(engine, [window])


def write_drift_windows(engine: Engine, windows: Sequence[DriftWindow]) -> int:
    """:func:`write_drift_scores` of every window in one transaction (all or none of them, each
    window recorded for the judges in the given order); returns the number of rows written."""
    now = datetime.now(UTC)
    texts: dict[int, JsonText | None] = {}  # detail object → its text, for this write
    partitions = []
    for (
        deployment_id,
        window_start,
        window_end,
        granularity,
        scores,
        references,
        segments,
    ) in windows:
        check_deployment_id(deployment_id)
        _check_granularity(granularity)
        key = {
            "deployment_id": deployment_id,
            "window_start": utc(window_start),
            "granularity": granularity,
        }
        end = utc(window_end)
        compared = [
            (TRAINING, ALL, scores),
            *((name, ALL, by_column) for name, by_column in (references or {}).items()),
            *((TRAINING, name, by_column) for name, by_column in (segments or {}).items()),
        ]
        parts = [
            _table_columns(by_column, end, reference, now, segment, texts)
            if isinstance(by_column, ResultTable)
            else _result_columns(by_column, end, reference, now, segment)
            for reference, segment, by_column in compared
        ]
        values = [list(chain(*column)) for column in zip(*parts, strict=True)]
        window = Window(deployment_id, granularity, key["window_start"], end)
        partitions.append(Partition(key, ROW_COLUMNS, values, len(values[0]), window))
    return replace_partitions(engine, drift_scores, partitions)


def _table_columns(
    table: ResultTable,
    end: datetime,
    reference: str,
    now: datetime,
    segment: str,
    texts: dict[int, JsonText | None],
) -> list[Sequence[Any]]:
    """The :data:`ROW_COLUMNS` of a column-oriented result table's rows, each built from the
    table's list of that field (the values its ``DriftResult``s would store); a detail object
    shared by several results (windows holding the same merged profile share measurements)
    is serialized once, remembered in ``texts`` by its id while the write holds it."""
    n = len(table.metric)
    return [
        [end] * n,
        [reference] * n,
        table.column,
        table.metric,
        list(map(_number, table.value)),
        list(map(_number, table.p_value)),
        list(map(_number, table.threshold)),
        table.status,
        list(map(bool, table.drifted)),
        list(map(int, table.reference_size)),
        list(map(int, table.current_size)),
        [_remembered_text(detail, texts) for detail in table.detail],
        [now] * n,
        [segment] * n,
    ]


def _result_columns(
    by_column: Mapping[str, Sequence[DriftResult]],
    end: datetime,
    reference: str,
    now: datetime,
    segment: str,
) -> list[Sequence[Any]]:
    """The :data:`ROW_COLUMNS` of the rows of results given as ``DriftResult`` objects."""
    rows = [
        (
            end,
            reference,
            column,
            r.metric,
            _number(r.value),
            _number(r.p_value),
            _number(r.threshold),
            r.status,
            bool(r.drifted),
            int(r.reference_size),
            int(r.current_size),
            _json_text(r.detail),
            now,
            segment,
        )
        for column, results in by_column.items()
        for r in results
    ]
    return list(zip(*rows, strict=True)) if rows else [() for _ in ROW_COLUMNS]


def read_drift_scores(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    granularity: str | None = None,
    reference: str | None = TRAINING,
    segment: str | None = ALL,
) -> list[dict[str, Any]]:
    """Rows with ``start <= window_start < end``, oldest window first, UTC datetimes; only
    those against ``reference`` (the training baseline by default; None: every reference)
    and of ``segment`` (the population by default; None: every segment)."""
    query = select(drift_scores).where(
        drift_scores.c.deployment_id == deployment_id,
        drift_scores.c.window_start >= utc(start),
        drift_scores.c.window_start < utc(end),
    )
    if reference is not None:
        query = query.where(drift_scores.c.reference == reference)
    if segment is not None:
        query = query.where(drift_scores.c.segment == segment)
    if granularity is not None:
        query = query.where(drift_scores.c.granularity == _check_granularity(granularity))
    return _fetch(engine, query.order_by(drift_scores.c.window_start, drift_scores.c.id))


def stored_result(row: Mapping[str, Any]) -> DriftResult:
    """The DriftResult a stored ``drift_scores`` row records (its detail left out)."""
    return DriftResult(
        metric=row["metric"],
        value=row["value"],
        p_value=row["p_value"],
        threshold=row["threshold"],
        status=row["status"],
        drifted=row["drifted"],
        reference_size=row["reference_size"],
        current_size=row["current_size"],
    )


def read_new_drift_scores(
    engine: Engine,
    granularity: str,
    after_seq: int,
    up_to_seq: int,
    *,
    with_detail: bool = True,
    segment: str | None = ALL,
) -> list[dict[str, Any]]:
    """The rows of the windows with ``after_seq < commit_seq <= up_to_seq`` (see
    ``store.windows.window_rows``) of ``segment`` (default the population; None: every
    segment), each with its ``commit_seq``; ``with_detail=False`` skips decoding the JSON
    ``detail`` column."""
    columns = [c for c in drift_scores.c if with_detail or c.name != "detail"]
    where = [] if segment is None else [drift_scores.c.segment == segment]
    rows = window_rows(
        engine, drift_scores, _check_granularity(granularity), after_seq, up_to_seq, columns, where
    )
    return [_utc_row(row) for row in rows]


def commit_seq_for_legacy_cursor(engine: Engine, last_id: int) -> int:
    """The ``commit_seq`` cursor equivalent to a previous sensor's cursor ``last_id`` (the last
    ``drift_scores`` id it judged): the newest commit_seq among windows whose rows all have
    ids <= ``last_id``. Revision 0002 numbered the existing windows in the order of their newest
    id, and every later write has higher ids and commit_seqs, so the windows at or below the
    result are exactly those the old cursor had passed: none judged twice, none skipped."""
    newest = (
        select(
            drift_scores.c.deployment_id,
            drift_scores.c.window_start,
            drift_scores.c.granularity,
            func.max(drift_scores.c.id).label("last_id"),
        )
        .group_by(
            drift_scores.c.deployment_id, drift_scores.c.window_start, drift_scores.c.granularity
        )
        .subquery()
    )
    query = (
        select(func.max(written_windows.c.commit_seq))
        .join(
            newest,
            and_(*(written_windows.c[name] == newest.c[name] for name in KEY_COLUMNS)),
        )
        .where(written_windows.c.source == drift_scores.name, newest.c.last_id <= last_id)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one() or 0


def _fetch(engine: Engine, query) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_utc_row(row) for row in conn.execute(query).mappings()]


def _utc_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "window_start": utc(row["window_start"]),
        "window_end": utc(row["window_end"]),
        "computed_at": utc(row["computed_at"]),
    }


def _check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r} (valid: {', '.join(GRANULARITIES)})")
    return granularity


def _number(value: float | None) -> float | None:
    """Floats for the database; NaN and ±inf (which JSON and some drivers reject) become None."""
    return None if value is None or not math.isfinite(value) else float(value)


def _json_text(detail: Mapping[str, Any]) -> JsonText | None:
    """``json.dumps(_json_safe(detail))``, None for an empty detail; a flat dict of plain values
    (most details) is written here directly, the same text, at a fraction of the cost."""
    if not detail:
        return None
    if type(detail) is dict:
        parts = []
        for key, value in detail.items():
            kind = type(value)
            if type(key) is not str:
                break
            if kind is float:
                text = float.__repr__(value) if value - value == 0 else "null"  # ±inf, NaN
            elif kind is str:
                text = _quoted(value)
            elif kind is bool:
                text = "true" if value else "false"
            elif kind is int:
                text = int.__repr__(value)
            elif value is None:
                text = "null"
            else:
                break
            parts.append(f"{_quoted(key)}: {text}")
        else:
            return JsonText("{" + ", ".join(parts) + "}")
    safe = _json_safe(detail)
    return JsonText(json.dumps(safe)) if safe else None


def _remembered_text(
    detail: Mapping[str, Any], texts: dict[int, JsonText | None]
) -> JsonText | None:
    """``_json_text(detail)``, taken from ``texts`` when this very object was serialized."""
    key = id(detail)
    if key in texts:
        return texts[key]
    text = texts[key] = _json_text(detail)
    return text


def _json_safe(value: Any) -> Any:
    """Detail as plain JSON: numpy scalars to Python numbers, non-finite floats to None."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return _number(value)
    if kind is dict or isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | str | int):
        return value
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return _number(float(value))
