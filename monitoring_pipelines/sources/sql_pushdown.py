"""An hour of a PostgreSQL log table profiled inside the database: only aggregates cross the wire.

The result is the :class:`DatasetProfile` the Python path (``read_window`` then
``profile_chunks``) gives for the same rows: counts exactly, moments to floating-point
rounding. Per window, one query groups with ``GROUPING SETS``:

- a numerical column (a numeric SQL type) by ``width_bucket(x, T)`` with
  ``T = [-DBL_MAX, interior edges…, +Infinity, NaN]``: bucket 0 holds -inf, bucket b in
  1…k the Python bin b-1, k+1 +inf, k+2 NaN, NULL the NULLs;
- a categorical column, and a numerical column stored as text (whose strings the Python
  path parses with ``pd.to_numeric``), by its value; the Python code then turns the
  value counts into the profile (keys, cap and folding, parsing) exactly as it would rows.

One light query then takes the moments of the finite values of each numerical column:
``min``, ``max``, and ``avg`` and ``var_pop`` of the deviations ``d`` from the baseline's
mean (the two share one ``float8_accum`` state, so one transition per value instead of
the three of ``Σd``, ``Σd²``), so ``M2 = n·var_pop(d)``. PostgreSQL's ``var_pop`` is
Youngs–Cramer, which loses about ``eps·|mean|/std`` of the values it is given: on raw
values like ``1e9 + noise`` that misses 1e-9, on deviations from a nearby shift it does
not. So a column whose window mean lies more than ``FAR_FROM_SHIFT`` standard deviations
from that shift gets a second pass with its own mean, as the Python path's two passes.
A column whose buckets show no NaN or ±inf is aggregated as it is; others through
``NULLIF``.

PostgreSQL does not run grouping sets in parallel, so the window is cut into
``workers`` equal time slices grouped on concurrent connections, their counts added.
Repeated request ids (:func:`duplicate_ids`) are ``COUNT(id) − COUNT(DISTINCT id)`` over the
whole window, one more query, run only for a deployment with a ``request_id`` column.

``enable_sort`` is off for these queries: the planner estimates a bucket
column to have as many groups as the column has values and would sort instead of hashing
a few dozen groups.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    Numeric,
    Text,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from monitoring_pipelines.stats.dataset import (
    DatasetProfile,
    empty_like,
    profile_frame,
    reference_categories,
)
from monitoring_pipelines.stats.profile import (
    CategoricalProfile,
    NumericalProfile,
    category_key,
)

if TYPE_CHECKING:
    from monitoring_pipelines.sources.sql import SqlLogSource

DEFAULT_WORKERS = 2
# A column's window mean more than this many of its standard deviations from the shift
# (the baseline's mean) gets a second pass with its own mean as the shift: Youngs–Cramer on
# the deviations loses about FAR_FROM_SHIFT × the running sum's rounding error (1e-13 on 1M
# values), far below 1e-9; the test's column 1e8 standard deviations away needs the pass.
FAR_FROM_SHIFT = 30.0
SESSION_SETTINGS = (
    "SET LOCAL enable_sort = off",
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL extra_float_digits = 3",  # real/numeric → text → float8 as the COPY path does
    # The expressions are cheap calls (width_bucket, comparisons, float8_accum): compiling
    # them costs ~0.1 s per backend and parallel worker and saves less than it costs.
    "SET LOCAL jit = off",
)
_NAN = text("'NaN'::float8")
_POS_INF = text("'Infinity'::float8")
_NEG_INF = text("'-Infinity'::float8")


@dataclass(frozen=True)
class _Plan:
    """How each monitored column is aggregated in SQL."""

    bucketed: dict[str, ColumnElement]  # numerical: the column as float8
    by_value: dict[str, ColumnElement]  # categorical; numerical stored as text, or discrete
    absent: tuple[str, ...]


def supports(source: SqlLogSource) -> bool:
    """Push-down runs on PostgreSQL (the dialect it is written and tested for)."""
    return source.engine.dialect.name == "postgresql"


def profile_window(
    source: SqlLogSource,
    start: datetime,
    end: datetime,
    baseline: DatasetProfile,
    workers: int = DEFAULT_WORKERS,
) -> DatasetProfile:
    """The profile of the window's rows on the baseline's edges and categories.

    The grouping runs over ``workers`` time slices at once and the counts are added; the
    moments are taken over the whole window (merging slice moments with Chan's formula
    would lose ``eps·|mean|`` on each slice's mean).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")
    plan = _plan(source, baseline)
    step = (end - start) / workers
    slices = list(pairwise([start + i * step for i in range(workers)] + [end]))

    def count(window: tuple[datetime, datetime]) -> tuple[int, dict[str, dict]]:
        with _session(source) as conn:
            return _groups(conn, source, plan, baseline, *window)

    if workers == 1:
        parts = [count(slices[0])]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="pushdown") as pool:
            parts = list(pool.map(count, slices))
    rows = sum(n for n, _ in parts)
    if rows == 0:
        return empty_like(baseline)
    groups: dict[str, dict] = {name: {} for name in [*plan.bucketed, *plan.by_value]}
    for _, part in parts:
        for name, counted in part.items():
            for key, n in counted.items():
                groups[name][key] = groups[name].get(key, 0) + n
    numerical = {name: _numerical(baseline.columns[name], groups[name]) for name in plan.bucketed}
    finite = {
        name: _finite(x, numerical[name].edges, groups[name])
        for name, x in plan.bucketed.items()
        if numerical[name].n_finite
    }
    with _session(source) as conn:
        numerical |= _moments(conn, source, finite, numerical, baseline, start, end)
    columns = {}
    for name, ref in baseline.columns.items():
        if name in plan.absent:
            missing = pd.DataFrame({name: np.full(rows, np.nan)})
            columns[name] = profile_frame(missing, _one(ref, name)).columns[name]
        elif name in numerical:
            columns[name] = numerical[name]
        elif isinstance(ref, NumericalProfile):
            columns[name] = _expanded(name, ref, groups[name])
        else:
            columns[name] = _categorical(ref, groups[name])
    extra = tuple(sorted({source.timestamp_column} - set(baseline.columns)))
    return DatasetProfile(rows, columns, absent_columns=plan.absent, extra_columns=extra)


@contextmanager
def _session(source: SqlLogSource) -> Iterator[Connection]:
    """A connection in a transaction with the push-down's settings."""
    with source.connect() as conn:
        for setting in SESSION_SETTINGS:
            conn.execute(text(setting))
        yield conn


def _plan(source: SqlLogSource, baseline: DatasetProfile) -> _Plan:
    bucketed, by_value, absent = {}, {}, []
    for name, ref in baseline.columns.items():
        if name not in source.table.c:
            absent.append(name)
            continue
        column = source.table.c[name]
        discrete = getattr(ref, "discrete", False)  # its new values are listed: by value
        if isinstance(ref, NumericalProfile) and _is_number(column) and not discrete:
            bucketed[name] = _as_float8(column)
        elif isinstance(column.type, (Float, Numeric)):
            by_value[name] = _as_float8(column)  # as the COPY path reads it
        else:
            by_value[name] = column
    return _Plan(bucketed, by_value, tuple(absent))


def _is_number(column: Column) -> bool:
    return isinstance(column.type, (Integer, Float, Numeric, Boolean))


def _as_float8(column: Column) -> ColumnElement:
    """The column as float8, as the COPY path reads it: via its text for real and numeric
    (the shortest exact text, parsed), directly for integers and booleans."""
    if isinstance(column.type, Boolean):
        return cast(cast(column, Integer), DOUBLE_PRECISION)
    if isinstance(column.type, DOUBLE_PRECISION):
        return column
    if isinstance(column.type, Integer):
        return cast(column, DOUBLE_PRECISION)
    return cast(cast(column, Text), DOUBLE_PRECISION)


def _thresholds(edges: np.ndarray) -> list[float]:
    """``[-DBL_MAX, interior edges…, +inf, NaN]`` (PostgreSQL sorts NaN last): -inf, each
    Python bin, +inf and NaN get a bucket of their own."""
    return [-sys.float_info.max, *edges[1:-1].tolist(), math.inf, math.nan]


def _groups(
    conn: Connection, source, plan: _Plan, baseline, start, end
) -> tuple[int, dict[str, dict]]:
    """Rows, and per column bucket (or value) → count, from one grouping-sets query."""
    keys = []
    for name, x in plan.bucketed.items():
        thresholds = literal(_thresholds(baseline.columns[name].edges), ARRAY(DOUBLE_PRECISION))
        keys.append(func.width_bucket(x, thresholds).label(f"k{len(keys)}"))
    keys += [x.label(f"k{len(keys) + i}") for i, x in enumerate(plan.by_value.values())]
    if not keys:
        return conn.execute(source.where(select(func.count()), start, end)).scalar_one(), {}
    names = [*plan.bucketed, *plan.by_value]
    inner = source.where(select(*keys), start, end).offset(0).subquery()
    grouped = [inner.c[f"k{i}"] for i in range(len(keys))]
    query = select(*grouped, *[func.grouping(k) for k in grouped], func.count()).group_by(
        func.grouping_sets(*grouped)
    )
    counts: dict[str, dict] = {name: {} for name in names}
    width = len(grouped)
    for row in conn.execute(query):
        index = next(i for i in range(width) if row[width + i] == 0)
        counts[names[index]][row[index]] = int(row[-1])
    return sum(counts[names[0]].values()), counts


def _numerical(ref: NumericalProfile, buckets: dict) -> NumericalProfile:
    """Bin, missing and infinite counts from the buckets of :func:`_thresholds`."""
    k = ref.edges.size - 1
    counts = np.zeros(k, dtype=np.int64)
    for bucket, n in buckets.items():
        if bucket is not None and bucket <= k + 1:
            counts[min(max(bucket - 1, 0), k - 1)] += n
    neg_inf, pos_inf = buckets.get(0, 0), buckets.get(k + 1, 0)
    return replace(
        NumericalProfile.empty(ref.edges),
        counts=counts,
        missing=buckets.get(None, 0) + buckets.get(k + 2, 0),
        pos_inf=pos_inf,
        neg_inf=neg_inf,
        n_finite=int(counts.sum()) - neg_inf - pos_inf,
    )


def _finite(x: ColumnElement, edges: np.ndarray, buckets: dict) -> ColumnElement:
    """The column's finite values (NaN and ±inf as NULL, which aggregates skip); the column
    itself when its buckets hold no NaN or ±inf (NULLs are skipped anyway)."""
    k = edges.size - 1
    if not any(buckets.get(b) for b in (0, k + 1, k + 2)):
        return x
    return func.nullif(func.nullif(func.nullif(x, _NAN), _POS_INF), _NEG_INF)


def _moments(
    conn: Connection,
    source,
    finite: dict[str, ColumnElement],
    profiles: dict[str, NumericalProfile],
    baseline: DatasetProfile,
    start,
    end,
) -> dict[str, NumericalProfile]:
    """Mean, M2, min and max of the finite values from the mean and population variance of
    their deviations from a shift: first the baseline's mean, then, for a column whose mean
    lies more than :data:`FAR_FROM_SHIFT` standard deviations from it (where Youngs–Cramer
    on the deviations would lose digits), the window's own mean, as the Python path's
    second pass does."""
    shifts = {name: _shift(baseline.columns[name].mean) for name in finite}
    moments = _shifted_moments(conn, source, finite, shifts, start, end, with_range=True)
    result, redo = {}, {}
    for name, (offset, variance, low, high) in moments.items():
        n = profiles[name].n_finite
        m2 = variance * n
        result[name] = replace(
            profiles[name], mean=shifts[name] + offset, m2=m2, min=float(low), max=float(high)
        )
        if not (math.isfinite(m2) and m2 > 0) or offset * offset > FAR_FROM_SHIFT**2 * m2 / n:
            redo[name] = shifts[name] + offset
    if redo:
        again = _shifted_moments(conn, source, {n: finite[n] for n in redo}, redo, start, end)
        for name, (offset, variance) in again.items():
            n = profiles[name].n_finite
            result[name] = replace(result[name], mean=redo[name] + offset, m2=variance * n)
    return result


def _shift(mean: float) -> float:
    return float(mean) if math.isfinite(mean) else 0.0


def _shifted_moments(
    conn: Connection,
    source,
    finite: dict[str, ColumnElement],
    shifts: dict[str, float],
    start,
    end,
    with_range: bool = False,
) -> dict[str, tuple]:
    """Per column ``avg(x − shift)``, ``var_pop(x − shift)`` (one shared transition state)
    and ``min``, ``max``, in one scan."""
    if not finite:
        return {}
    selected = []
    for name, g in finite.items():
        deviation = g - literal(shifts[name], DOUBLE_PRECISION)
        selected += [func.avg(deviation), func.var_pop(deviation)]
        selected += [func.min(g), func.max(g)] if with_range else []
    row = conn.execute(source.where(select(*selected), start, end)).one()
    width = 4 if with_range else 2
    return {
        name: (
            float(row[width * i]),
            float(row[width * i + 1]),
            *row[width * i + 2 : width * (i + 1)],
        )
        for i, name in enumerate(finite)
    }


def _categorical(ref: CategoricalProfile, values: dict) -> CategoricalProfile:
    """The value counts as the Python path keys, caps and folds them."""
    categories = reference_categories(ref)
    counts, missing = {}, 0
    for value, n in values.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing += n
            continue
        key = category_key(value)
        counts[key] = counts.get(key, 0) + n
    empty = profile_frame(pd.DataFrame({"c": pd.Series([], dtype=object)}), _one(ref)).columns["c"]
    seen = CategoricalProfile(
        counts=counts,
        missing=missing,
        max_categories=ref.max_categories,
        reference_categories=categories,
    )
    return empty.merge(seen)


def _expanded(name: str, ref: NumericalProfile, values: dict) -> NumericalProfile:
    """A numerical column counted by value (stored as text, or discrete): the Python path
    over its distinct values, repeated. Numbers (and NULL, as NaN) are repeated as float64,
    as the rows are read; anything else (text) as objects, for ``to_float`` to parse: an
    object column of a million numbers would cost the parsing of a million values."""
    keys = list(values)
    counts = [values[k] for k in keys]
    if all(k is None or (isinstance(k, int | float) and not isinstance(k, bool)) for k in keys):
        distinct = np.array([np.nan if k is None else float(k) for k in keys], dtype=np.float64)
    else:
        distinct = np.array(keys, dtype=object)
    frame = pd.DataFrame({name: pd.Series(np.repeat(distinct, counts))})
    return profile_frame(frame, _one(ref, name)).columns[name]


def _one(ref, name: str = "c") -> DatasetProfile:
    return DatasetProfile(row_count=0, columns={name: ref})


def duplicate_ids(source: SqlLogSource, start: datetime, end: datetime, name: str) -> int:
    """Rows of the window repeating an earlier row's ``name`` (the request id):
    ``COUNT(id) − COUNT(DISTINCT id)`` over the whole window (a repeat may cross time
    slices), as ``stats.duplicates`` counts read rows: missing ids (NULL, and NaN in a float
    column, which pandas drops) are not counted; a table without the column has none (the
    row path reads no id then either)."""
    if name not in source.table.c:
        return 0
    column = source.table.c[name]
    ids = column
    if isinstance(column.type, (Float, Numeric)):
        ids = func.nullif(_as_float8(column), _NAN)  # float8, as the rows are read
    query = source.where(select(func.count(ids) - func.count(ids.distinct())), start, end)
    with _session(source) as conn:
        return int(conn.execute(query).scalar_one())
