"""Dataset profiles: one profile per monitored column for one window of rows.

``fit_baseline`` learns the bin edges and categories from the reference data
(fit once); ``profile_frame`` / ``profile_chunks`` count a production window on
those edges and categories (score many). Profiles of any split of the rows merge
to the profile of the whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache, lru_cache

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.binning import DEFAULT_BINS
from monitoring_pipelines.stats.profile import (
    DEFAULT_MAX_CATEGORIES,
    CategoricalProfile,
    ColumnProfile,
    Kind,
    NumericalProfile,
    fit_categorical,
    fit_numerical,
    merge_all,
    profile_categorical,
)

MULTIVARIATE = "__multivariate__"  # the pseudo-column of the reconstruction errors


@dataclass(frozen=True, eq=False)
class DatasetProfile:
    """Profiles of the monitored columns of one window, plus what did not fit the schema."""

    row_count: int
    columns: dict[str, ColumnProfile]
    absent_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    multivariate: NumericalProfile | None = None

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        if self.columns.keys() != other.columns.keys():
            raise ValueError(
                "cannot merge profiles of different columns: "
                f"{sorted(self.columns)} vs {sorted(other.columns)}"
            )
        return DatasetProfile(
            row_count=self.row_count + other.row_count,
            columns={name: p.merge(other.columns[name]) for name, p in self.columns.items()},
            absent_columns=tuple(sorted(set(self.absent_columns) | set(other.absent_columns))),
            extra_columns=tuple(sorted(set(self.extra_columns) | set(other.extra_columns))),
            multivariate=_merged(self.multivariate, other.multivariate),
        )

    @staticmethod
    def merge_many(profiles: Sequence[DatasetProfile]) -> DatasetProfile:
        """``reduce(DatasetProfile.merge, profiles)``, the same profile bit for bit, each column
        merged in one pass (:func:`~monitoring_pipelines.stats.profile.merge_all`): a rolled-up
        window of 24 or 168 hours is one sum per column, not 23 or 167 merges."""
        first = profiles[0]
        if len(profiles) == 1:
            return first
        for other in profiles[1:]:
            if first.columns.keys() != other.columns.keys():
                raise ValueError(
                    "cannot merge profiles of different columns: "
                    f"{sorted(first.columns)} vs {sorted(other.columns)}"
                )
        errors = [p.multivariate for p in profiles if p.multivariate is not None]
        return DatasetProfile(
            row_count=sum(p.row_count for p in profiles),
            columns={
                name: merge_all([p.columns[name] for p in profiles]) for name in first.columns
            },
            absent_columns=tuple(sorted(set().union(*(p.absent_columns for p in profiles)))),
            extra_columns=tuple(sorted(set().union(*(p.extra_columns for p in profiles)))),
            multivariate=merge_all(errors) if errors else None,
        )

    @property
    def missing_counts(self) -> dict[str, int]:
        return {name: p.missing for name, p in self.columns.items()}


def _merged(a: NumericalProfile | None, b: NumericalProfile | None) -> NumericalProfile | None:
    """Error profiles merge like a column; a window without one (profiled in the database,
    which cannot apply the model) adds no errors, and the score's row count says so."""
    if a is None or b is None:
        return a if b is None else b
    return a.merge(b)


def _check_kinds(kinds: Mapping[str, Kind | str]) -> dict[str, Kind]:
    checked = {}
    for name, kind in kinds.items():
        try:
            checked[name] = Kind(kind)
        except ValueError:
            valid = ", ".join(k.value for k in Kind)
            raise ValueError(f"column {name!r}: unknown kind {kind!r} (valid: {valid})") from None
    return checked


def fit_baseline(
    frame: pd.DataFrame,
    kinds: Mapping[str, Kind | str],
    n_bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    threads: int = 1,
) -> DatasetProfile:
    """Profile the reference data, learning bin edges, discrete values and categories from it;
    with ``threads`` > 1 columns are fitted in that many threads (numpy's sorts and the compiled
    kernel release the GIL), the same baseline for any number."""
    _check_threads(threads)
    kinds = _check_kinds(kinds)
    absent = [name for name in kinds if name not in frame.columns]
    if absent:
        raise ValueError(f"reference data lacks the monitored column(s) {absent}")

    def column(name: str) -> ColumnProfile:
        if kinds[name] is Kind.NUMERICAL:
            return fit_numerical(frame[name], n_bins, max_categories)
        return fit_categorical(frame[name], max_categories)

    columns = dict(zip(kinds, _map(column, list(kinds), threads), strict=True))
    extra = tuple(sorted(set(frame.columns) - set(kinds)))
    return DatasetProfile(row_count=len(frame), columns=columns, extra_columns=extra)


def _check_threads(threads: int) -> None:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")


def _map(work: Callable[[str], ColumnProfile], names: list[str], threads: int) -> list:
    """``work`` of each column, in order: in this thread, or on the pool of ``threads``."""
    if threads == 1 or len(names) < 2:
        return [work(name) for name in names]
    return list(_pool(min(threads, len(names))).map(work, names))


def empty_like(reference: DatasetProfile) -> DatasetProfile:
    """A profile of zero rows on the reference's edges and categories."""
    return profile_frame(pd.DataFrame(), reference, report_absent=False)


@dataclass(frozen=True, eq=False)
class Columns:
    """One chunk of rows as named columns of equal length (numpy arrays or pandas Series):
    what the profilers count, with or without a DataFrame around them (a Parquet row group
    goes from Arrow straight into numpy arrays, ``sources.parquet``)."""

    rows: int
    values: Mapping[str, np.ndarray | pd.Series]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Columns:
        """The columns of a DataFrame (views, no copy)."""
        return cls(len(frame), {name: frame[name] for name in frame.columns})


def profile_frame(
    frame: pd.DataFrame, reference: DatasetProfile, report_absent: bool = True, threads: int = 1
) -> DatasetProfile:
    """Profile one chunk of production rows on the reference's edges and categories.

    A monitored column missing from the chunk counts every row as missing and is
    listed in ``absent_columns``; unmonitored columns are listed in ``extra_columns``.
    With ``threads`` > 1 columns are profiled in that many threads (the compiled kernel
    and numpy's sorts release the GIL); any number gives the same profile.
    """
    return profile_columns(Columns.of(frame), reference, report_absent, threads)


# Below this many rows a chunk's columns are profiled in the calling thread whatever
# ``threads`` says: handing each column of a small chunk to the pool cost more than its work
# (a month of 10,000-row hours: 28 s wall and CPU on two threads, 19 s on one).
THREADED_ROWS = 100_000


def profile_columns(
    chunk: Columns, reference: DatasetProfile, report_absent: bool = True, threads: int = 1
) -> DatasetProfile:
    """:func:`profile_frame` of a chunk given as :class:`Columns` (its columns on ``threads``
    threads from :data:`THREADED_ROWS` rows)."""
    _check_threads(threads)
    n, present = chunk.rows, chunk.values
    names = list(reference.columns)

    def column(name: str) -> ColumnProfile:
        ref = reference.columns[name]
        values = present[name] if name in present else pd.Series(np.full(n, np.nan))
        if isinstance(ref, NumericalProfile):
            return ref.like(values)
        return profile_categorical(values, reference_categories(ref), ref.max_categories)

    profiles = _map(column, names, threads if n >= THREADED_ROWS else 1)
    absent = [name for name in names if name not in present] if report_absent else []
    extra = tuple(sorted(set(present) - set(reference.columns)))
    return DatasetProfile(
        row_count=n,
        columns=dict(zip(names, profiles, strict=True)),
        absent_columns=tuple(absent),
        extra_columns=extra,
    )


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, kept for the process: a chunk does not start threads."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="profile")


def profile_chunks(
    chunks: Iterable[pd.DataFrame | Columns],
    reference: DatasetProfile,
    threads: int = 1,
    errors: Callable[[pd.DataFrame | Columns], np.ndarray] | None = None,
) -> DatasetProfile:
    """Profile a stream of chunks (DataFrames or :class:`Columns`), holding one chunk in memory
    at a time; with ``errors`` (a reconstruction model's, for a reference with
    ``multivariate``) also each row's error."""
    total = _empty_of(reference)
    errors = errors if reference.multivariate is not None else None
    if errors is not None:
        total = replace(total, multivariate=reference.multivariate.like(np.empty(0)))
    for chunk in chunks:
        columns = chunk if isinstance(chunk, Columns) else Columns.of(chunk)
        part = profile_columns(columns, reference, threads=threads)
        if errors is not None:
            part = replace(part, multivariate=reference.multivariate.like(errors(chunk)))
        total = total.merge(part)
        del chunk, columns  # a chunk may be a whole row group: freed before the next is read
    return total


@lru_cache(maxsize=16)
def _empty_of(reference: DatasetProfile) -> DatasetProfile:
    """:func:`empty_like`, made once per reference object (profiles compare and hash by
    identity): a backfill starts each of its hours from it, and it is never modified (merges
    return new profiles)."""
    return empty_like(reference)


def reference_categories(baseline: CategoricalProfile) -> tuple[str, ...]:
    """The categories a production window is counted against: the baseline's kept ones."""
    return baseline.reference_categories or tuple(baseline.counts)
