"""Dataset profiles: one profile per monitored column for one window of rows.

``fit_baseline`` learns the bin edges and categories from the reference data
(fit once); ``profile_frame`` / ``profile_chunks`` count a production window on
those edges and categories (score many). Profiles of any split of the rows merge
to the profile of the whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
    profile_categorical,
)


@dataclass(frozen=True, eq=False)
class DatasetProfile:
    """Profiles of the monitored columns of one window, plus what did not fit the schema."""

    row_count: int
    columns: dict[str, ColumnProfile]
    absent_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()

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
        )

    @property
    def missing_counts(self) -> dict[str, int]:
        return {name: p.missing for name, p in self.columns.items()}


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
) -> DatasetProfile:
    """Profile the reference data, learning bin edges, discrete values and categories from it."""
    kinds = _check_kinds(kinds)
    absent = [name for name in kinds if name not in frame.columns]
    if absent:
        raise ValueError(f"reference data lacks the monitored column(s) {absent}")
    columns: dict[str, ColumnProfile] = {}
    for name, kind in kinds.items():
        if kind is Kind.NUMERICAL:
            columns[name] = fit_numerical(frame[name], n_bins, max_categories)
        else:
            columns[name] = fit_categorical(frame[name], max_categories)
    extra = tuple(sorted(set(frame.columns) - set(kinds)))
    return DatasetProfile(row_count=len(frame), columns=columns, extra_columns=extra)


def empty_like(reference: DatasetProfile) -> DatasetProfile:
    """A profile of zero rows on the reference's edges and categories."""
    return profile_frame(pd.DataFrame(), reference, report_absent=False)


def profile_frame(
    frame: pd.DataFrame, reference: DatasetProfile, report_absent: bool = True
) -> DatasetProfile:
    """Profile one chunk of production rows on the reference's edges and categories.

    A monitored column missing from the chunk counts every row as missing and is
    listed in ``absent_columns``; unmonitored columns are listed in ``extra_columns``.
    """
    n = len(frame)
    columns: dict[str, ColumnProfile] = {}
    absent = []
    for name, ref in reference.columns.items():
        if name in frame.columns:
            values = frame[name]
        else:
            values = pd.Series(np.full(n, np.nan))
            if report_absent:
                absent.append(name)
        if isinstance(ref, NumericalProfile):
            columns[name] = ref.like(values)
        else:
            columns[name] = profile_categorical(
                values, reference_categories(ref), ref.max_categories
            )
    extra = tuple(sorted(set(frame.columns) - set(reference.columns)))
    return DatasetProfile(
        row_count=n, columns=columns, absent_columns=tuple(absent), extra_columns=extra
    )


def profile_chunks(chunks: Iterable[pd.DataFrame], reference: DatasetProfile) -> DatasetProfile:
    """Profile a stream of chunks, holding one chunk in memory at a time."""
    total = empty_like(reference)
    for chunk in chunks:
        total = total.merge(profile_frame(chunk, reference))
    return total


def reference_categories(baseline: CategoricalProfile) -> tuple[str, ...]:
    """The categories a production window is counted against: the baseline's kept ones."""
    return baseline.reference_categories or tuple(baseline.counts)
