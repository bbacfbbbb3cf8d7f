"""Dataset profiles to and from rows of the ``aggregates`` table.

``value_counts`` holds user values only (a category called ``__other__`` is one of them);
what the cap folded is in ``other_counts``. A discrete numerical column keeps its exact
value counts there too, keyed by the value's shortest round-trip text (``repr``). The rows'
reconstruction errors (multivariate drift) are the numerical pseudo-column ``__multivariate__``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from monitoring_pipelines.stats.dataset import MULTIVARIATE, DatasetProfile
from monitoring_pipelines.stats.profile import (
    CategoricalProfile,
    ColumnProfile,
    Kind,
    NumericalProfile,
)
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.bulk import select_rows
from monitoring_pipelines.store.partitions import replace_partition
from monitoring_pipelines.store.schema import aggregates
from monitoring_pipelines.store.times import utc


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


_OPTIONAL_COLUMNS = [c.name for c in aggregates.columns if c.nullable]
# Window-level counts of rows read but not profiled as read (``sources.base.LogSource``): those
# lost or doubled, then those moved to the hour they belong to (``sources.parquet``).
LOST_ROWS = (
    "rows_out_of_window",
    "rows_null_timestamp",
    "rows_undecodable",
    "duplicate_request_ids",
)
ROW_COUNTS = (*LOST_ROWS, "rows_misfiled", "rows_from_neighbours")


def column_row(name: str, profile: ColumnProfile, row_count: int, is_response: bool) -> dict:
    """One ``aggregates`` row for one column profile (without the partition key)."""
    row = dict.fromkeys(_OPTIONAL_COLUMNS) | {
        "column_name": name,
        "is_response": is_response,
        "logical_type": profile.kind.code,
        "missing_counts": profile.missing,
        "count": profile.count,
        "row_count": row_count,
        "invalid_counts": 0,
    }
    if isinstance(profile, NumericalProfile):
        std = profile.std
        row |= {
            "bin_edges": [float(e) for e in profile.edges],
            "bin_counts": [int(c) for c in profile.counts],
            "mean": _number(profile.mean),
            "standard_deviation": _number(std),
            "min": _number(profile.min),
            "max": _number(profile.max),
            "finite_count": profile.n_finite,
            "m2": float(profile.m2),
            "invalid_counts": profile.invalid,
            "pos_inf_counts": profile.pos_inf,
            "neg_inf_counts": profile.neg_inf,
        }
        if profile.values is not None:
            row |= {
                "value_counts": {repr(float(v)): int(n) for v, n in profile.values.items()},
                "other_counts": profile.other,
                "max_categories": profile.max_values,
            }
    else:
        row |= {
            "value_counts": dict(profile.counts),
            "other_counts": profile.other,
            "max_categories": profile.max_categories,
            "replaced_values": profile.replaced,
        }
    return row


def profile_rows(profile: DatasetProfile, response_columns: Collection[str] = ()) -> list[dict]:
    """Rows for every column of a dataset profile (and its reconstruction errors)."""
    columns = dict(profile.columns)
    if profile.multivariate is not None:
        columns[MULTIVARIATE] = profile.multivariate
    return [
        column_row(name, p, profile.row_count, name in response_columns)
        for name, p in columns.items()
    ]


PROFILE_COLUMNS = [
    aggregates.c[name]
    for name in (
        "deployment_id",
        "timestamp",
        "segment",
        "column_name",
        "logical_type",
        "bin_edges",
        "bin_counts",
        "value_counts",
        "missing_counts",
        "invalid_counts",
        "pos_inf_counts",
        "neg_inf_counts",
        "finite_count",
        "mean",
        "m2",
        "min",
        "max",
        "other_counts",
        "max_categories",
        "replaced_values",
        "row_count",
    )
]  # what the readers of profiles select: the key and what column_profile reads


def _dataset(row_count: int, columns: dict[str, ColumnProfile]) -> DatasetProfile:
    """A dataset profile from stored column profiles, the pseudo-column set apart."""
    multivariate = columns.pop(MULTIVARIATE, None)
    return DatasetProfile(row_count=row_count, columns=columns, multivariate=multivariate)


def column_profile(row, reference: tuple = ()) -> ColumnProfile:
    """Rebuild a column profile from an ``aggregates`` row (a mapping or Row); ``reference``
    are the baseline's categories (or a discrete column's values) a window was counted on."""
    if row["logical_type"] == Kind.NUMERICAL.code:
        stored = row["value_counts"]
        discrete = (
            {}
            if stored is None
            else {
                "values": {float(k): int(v) for k, v in stored.items()},
                "other": int(row["other_counts"] or 0),
                "max_values": int(row["max_categories"]),
                "reference_values": reference,
            }
        )
        return NumericalProfile(
            edges=np.asarray(row["bin_edges"], dtype=np.float64),
            counts=np.asarray(row["bin_counts"], dtype=np.int64),
            missing=int(row["missing_counts"]),
            invalid=int(row["invalid_counts"] or 0),
            pos_inf=int(row["pos_inf_counts"] or 0),
            neg_inf=int(row["neg_inf_counts"] or 0),
            n_finite=int(row["finite_count"] or 0),
            mean=float("nan") if row["mean"] is None else float(row["mean"]),
            m2=float(row["m2"] or 0.0),
            min=float("nan") if row["min"] is None else float(row["min"]),
            max=float("nan") if row["max"] is None else float(row["max"]),
            **discrete,
        )
    return CategoricalProfile(
        counts={str(k): int(v) for k, v in (row["value_counts"] or {}).items()},
        missing=int(row["missing_counts"]),
        other=int(row["other_counts"] or 0),
        max_categories=int(row["max_categories"]),
        reference_categories=reference,
        replaced=int(row.get("replaced_values") or 0),
    )


def write_profile(
    engine: Engine,
    deployment_id: str,
    window_start: datetime,
    profile: DatasetProfile,
    *,
    is_baseline: bool,
    window_end: datetime | None = None,
    response_columns: Collection[str] = (),
    accounted: Mapping[str, int | None] | None = None,
    log_files: int | None = None,
    segments: Mapping[str, DatasetProfile] | None = None,
    unstamped_total: int | None = None,
) -> dict[str, int | None]:
    """Replace one partition's rows: one baseline version (a new one keeps the older), or one
    window; the
    population's rows (segment ``__all__``) and those of each of ``segments`` (segment name
    → profile), all in one transaction.

    ``accounted`` are the window's rows read but not profiled as such (``ROW_COUNTS``) and
    ``log_files`` the files its source found, stored on each of the population's rows like
    ``row_count``; a count left out is unknown (NULL). ``unstamped_total`` is the number of
    the deployment's rows with no timestamp in a source that holds them outside every
    window (a SQL table, ``LogSource.unstamped_rows``): this window's ``rows_null_timestamp``
    is then the part of it no other stored window of the deployment counts
    (:func:`unclaimed_unstamped`), decided under a deployment-wide lock, so each such row is
    counted by exactly one hour however the hours are run or re-run. Returns the window's
    counts as stored."""
    unknown = set(accounted or {}) - set(ROW_COUNTS)
    if unknown:
        raise ValueError(f"unknown row counts {sorted(unknown)} (valid: {', '.join(ROW_COUNTS)})")
    # a baseline is keyed by its time too: a new one is a new version, older ones stay
    key = {
        "deployment_id": deployment_id,
        "is_baseline": is_baseline,
        "timestamp": utc(window_start),
    }
    counts = {name: (accounted or {}).get(name) for name in ROW_COUNTS}
    now = datetime.now(UTC)
    common = {"timestamp": utc(window_start), "window_end": window_end and utc(window_end)}

    def rows(conn: Connection) -> list[dict]:
        if unstamped_total is not None:
            counts["rows_null_timestamp"] = unclaimed_unstamped(
                conn, deployment_id, utc(window_start), unstamped_total
            )
        return [
            {**row, **common, "computed_at": now, "segment": segment}
            | {name: counts[name] if segment == ALL else None for name in ROW_COUNTS}
            | {"log_files": log_files if segment == ALL else None}
            for segment, part in {ALL: profile, **(segments or {})}.items()
            for row in profile_rows(part, response_columns)
        ]

    lock = [(aggregates.name, UNSTAMPED_LOCK, deployment_id)] if unstamped_total is not None else []
    replace_partition(engine, aggregates, key, rows, also_lock=lock)
    return counts


UNSTAMPED_LOCK = "rows_null_timestamp"


def unclaimed_unstamped(
    conn: Connection, deployment_id: str, window_start: datetime, total: int
) -> int:
    """``total`` unstamped rows less those the deployment's other stored windows count (never
    below 0: rows deleted from the source stay counted where they were until those hours
    are re-run)."""
    per_window = (
        select(func.max(aggregates.c.rows_null_timestamp).label("n"))
        .where(
            aggregates.c.deployment_id == deployment_id,
            aggregates.c.is_baseline.is_(False),
            aggregates.c.segment == ALL,
            aggregates.c.timestamp != window_start,
        )
        .group_by(aggregates.c.timestamp)
        .subquery()
    )
    claimed = conn.execute(select(func.coalesce(func.sum(per_window.c.n), 0))).scalar_one()
    return max(int(total) - int(claimed), 0)


def reference_values(baseline: DatasetProfile) -> dict[str, tuple]:
    """Per column, the baseline's categories (or discrete values) a window is counted on:
    what :func:`column_profile` needs to rebuild a window's profile."""
    columns = dict(baseline.columns)
    if baseline.multivariate is not None:
        columns[MULTIVARIATE] = baseline.multivariate
    return {
        name: tuple(p.counts) if isinstance(p, CategoricalProfile) else tuple(p.values or ())
        for name, p in columns.items()
    }


def latest_baseline(engine: Engine, deployment_id: str) -> datetime | None:
    """The time of the deployment's latest baseline version, or None."""
    versions = baseline_timestamps(engine, deployment_id)
    return versions[-1] if versions else None


def read_baseline(
    engine: Engine, deployment_id: str, segment: str = ALL, version: datetime | None = None
) -> DatasetProfile | None:
    """The deployment's baseline profile (of ``segment``, default the population; of the
    latest version, which windows are judged against, or of ``version``), or None when it
    has not been computed."""
    if segment == ALL:
        return read_baselines(engine, [deployment_id], version).get(deployment_id)
    version = version or latest_baseline(engine, deployment_id)
    if version is None:
        return None
    where = [
        aggregates.c.deployment_id == deployment_id,
        aggregates.c.is_baseline.is_(True),
        aggregates.c.timestamp == utc(version),
    ]
    return next(iter(_read_profiles(engine, where, segment).values()), None)


def read_segment_baselines(engine: Engine, deployment_id: str) -> dict[str, DatasetProfile]:
    """The latest baseline profile of every segment the reference holds (population excluded)."""
    version = latest_baseline(engine, deployment_id)
    reference = read_baseline(engine, deployment_id)
    if reference is None or version is None:
        return {}
    where = [
        aggregates.c.deployment_id == deployment_id,
        aggregates.c.is_baseline.is_(True),
        aggregates.c.timestamp == utc(version),
    ]
    profiles = _read_profiles(engine, where, None, reference_values(reference))
    return {segment: p for (_, segment), p in profiles.items() if segment != ALL}


def read_baselines(
    engine: Engine, deployment_ids: Collection[str], version: datetime | None = None
) -> dict[str, DatasetProfile]:
    """The population's latest baseline version (or the one at ``version``) of the
    deployments that have one, in one query."""
    chosen = (
        select(aggregates.c.deployment_id, func.max(aggregates.c.timestamp).label("version"))
        .where(
            aggregates.c.deployment_id.in_(sorted(set(deployment_ids))),
            aggregates.c.is_baseline.is_(True),
            aggregates.c.segment == ALL,
            *([aggregates.c.timestamp == utc(version)] if version is not None else []),
        )
        .group_by(aggregates.c.deployment_id)
        .subquery()
    )
    query = (
        select(*PROFILE_COLUMNS)
        .join(
            chosen,
            (aggregates.c.deployment_id == chosen.c.deployment_id)
            & (aggregates.c.timestamp == chosen.c.version),
        )
        .where(aggregates.c.is_baseline.is_(True), aggregates.c.segment == ALL)
        .order_by(aggregates.c.id)
    )
    with engine.connect() as conn:
        rows = select_rows(conn, query)
    columns: dict[str, dict[str, ColumnProfile]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        columns.setdefault(row["deployment_id"], {})[row["column_name"]] = column_profile(row)
        counts.setdefault(row["deployment_id"], int(row["row_count"]))
    return {d: _dataset(counts[d], c) for d, c in columns.items()}


def baseline_timestamps(engine: Engine, deployment_id: str) -> list[datetime]:
    """The times of the deployment's baseline versions, oldest first."""
    query = (
        select(aggregates.c.timestamp)
        .where(aggregates.c.deployment_id == deployment_id, aggregates.c.is_baseline.is_(True))
        .distinct()
        .order_by(aggregates.c.timestamp)
    )
    with engine.connect() as conn:
        return [utc(moment) for moment in conn.execute(query).scalars()]


def read_windows(
    engine: Engine,
    deployment_id: str,
    start: datetime,
    end: datetime,
    baseline: DatasetProfile,
    segment: str = ALL,
) -> dict[datetime, DatasetProfile]:
    """Stored hourly profiles of ``segment`` (default the population) with
    ``start <= timestamp < end``, keyed by window start (UTC)."""
    if segment == ALL:
        return read_fleet_windows(engine, {deployment_id: (start, end, baseline)})[deployment_id]
    profiles = _read_profiles(
        engine, _window_filter(deployment_id, start, end), segment, reference_values(baseline)
    )
    return {moment: profile for (moment, _), profile in profiles.items()}


def read_segment_windows(
    engine: Engine, deployment_id: str, start: datetime, end: datetime, baseline: DatasetProfile
) -> dict[datetime, dict[str, DatasetProfile]]:
    """Stored hourly profiles of every segment but the population, window start → segment →
    profile."""
    profiles = _read_profiles(
        engine, _window_filter(deployment_id, start, end), None, reference_values(baseline)
    )
    windows: dict[datetime, dict[str, DatasetProfile]] = {}
    for (moment, segment), profile in profiles.items():
        if segment != ALL:
            windows.setdefault(moment, {})[segment] = profile
    return windows


def _window_filter(deployment_id: str, start: datetime, end: datetime) -> list:
    return [
        aggregates.c.deployment_id == deployment_id,
        aggregates.c.is_baseline.is_(False),
        aggregates.c.timestamp >= utc(start),
        aggregates.c.timestamp < utc(end),
    ]


def _read_profiles(
    engine: Engine, where: list, segment: str | None, categories: Mapping[str, tuple] | None = None
) -> dict[tuple[datetime, str], DatasetProfile]:
    """Profiles of the rows matching ``where`` (and ``segment``; None: every segment),
    keyed by (timestamp, segment), in timestamp order."""
    if segment is not None:
        where = [*where, aggregates.c.segment == segment]
    with engine.connect() as conn:
        rows = select_rows(
            conn,
            select(*PROFILE_COLUMNS)
            .where(*where)
            .order_by(aggregates.c.timestamp, aggregates.c.id),
        )
    categories = categories or {}
    columns: dict[tuple[datetime, str], dict] = {}
    counts: dict[tuple[datetime, str], int] = {}
    for row in rows:
        key = (utc(row["timestamp"]), row["segment"])
        name = row["column_name"]
        columns.setdefault(key, {})[name] = column_profile(row, categories.get(name, ()))
        counts[key] = int(row["row_count"])
    return {key: _dataset(counts[key], profiles) for key, profiles in columns.items()}


def read_fleet_windows(
    engine: Engine, ranges: Mapping[str, tuple[datetime, datetime, DatasetProfile]]
) -> dict[str, dict[datetime, DatasetProfile]]:
    """:func:`read_windows` (the population) of many deployments (deployment → start, end,
    baseline) in one query over the span of all the ranges."""
    if not ranges:
        return {}
    categories = {d: reference_values(baseline) for d, (_, _, baseline) in ranges.items()}
    bounds = {d: (utc(start), utc(end)) for d, (start, end, _) in ranges.items()}
    query = (
        select(*PROFILE_COLUMNS)
        .where(
            aggregates.c.deployment_id.in_(sorted(ranges)),
            aggregates.c.is_baseline.is_(False),
            aggregates.c.segment == ALL,
            aggregates.c.timestamp >= min(b[0] for b in bounds.values()),
            aggregates.c.timestamp < max(b[1] for b in bounds.values()),
        )
        .order_by(aggregates.c.timestamp, aggregates.c.id)
    )
    with engine.connect() as conn:
        rows = select_rows(conn, query)
    _shared_edges(rows, {d: baseline for d, (_, _, baseline) in ranges.items()})
    windows: dict[str, dict[datetime, dict]] = {d: {} for d in ranges}
    counts: dict[tuple[str, datetime], int] = {}
    for row in rows:
        deployment, moment = row["deployment_id"], utc(row["timestamp"])
        start, end = bounds[deployment]
        if not start <= moment < end:
            continue
        windows[deployment].setdefault(moment, {})[row["column_name"]] = column_profile(
            row, categories[deployment].get(row["column_name"], ())
        )
        counts[deployment, moment] = int(row["row_count"])
    return {
        deployment: {
            moment: _dataset(counts[deployment, moment], columns)
            for moment, columns in hours.items()
        }
        for deployment, hours in windows.items()
    }


def _shared_edges(rows: list[dict], baselines: Mapping[str, DatasetProfile]) -> None:
    """Give the rows' bin edges as arrays, one per distinct stored list of a deployment's column
    (``select_rows`` shares equal values on SQLite): the baseline's own array when equal, so
    merging a window's hours and checking their edges against the baseline's compare objects,
    not arrays."""
    arrays: dict[tuple[str, str, int], np.ndarray] = {}
    for row in rows:
        stored = row["bin_edges"]
        if stored is None:
            continue
        key = (row["deployment_id"], row["column_name"], id(stored))
        if key not in arrays:
            edges = np.asarray(stored, dtype=np.float64)
            baseline = baselines[row["deployment_id"]]
            own = baseline.columns.get(row["column_name"])
            if row["column_name"] == MULTIVARIATE:
                own = baseline.multivariate
            if isinstance(own, NumericalProfile) and np.array_equal(own.edges, edges):
                edges = own.edges
            arrays[key] = edges
        row["bin_edges"] = arrays[key]


def read_hour_volumes(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> dict[datetime, tuple[int, int | None]]:
    """Rows and log files (None: not counted) of each stored hour with ``start <= timestamp <
    end``, keyed by hour (UTC)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                aggregates.c.timestamp,
                func.max(aggregates.c.row_count),
                func.max(aggregates.c.log_files),
            )
            .where(
                aggregates.c.deployment_id == deployment_id,
                aggregates.c.is_baseline.is_(False),
                aggregates.c.segment == ALL,
                aggregates.c.timestamp >= utc(start),
                aggregates.c.timestamp < utc(end),
            )
            .group_by(aggregates.c.timestamp)
        ).all()
    return {
        utc(moment): (int(count), None if files is None else int(files))
        for moment, count, files in rows
    }
