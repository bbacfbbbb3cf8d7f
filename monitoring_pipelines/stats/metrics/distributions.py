"""Align a baseline and a production profile into two count vectors over the same cells.

Numerical profiles: every bin, including the open-ended outer bins that hold values
(and ±inf) beyond the training range; missing values are not part of the
distribution. Discrete numerical profiles (both with exact value counts and nothing
folded): one cell per distinct value of either side, in order, between a −inf and a
+inf cell, so every metric sees a new value as a cell of its own and the CDFs are the
raw samples' CDFs exactly. Categorical profiles: the union of both profiles' categories, so a
category seen only in production (or only in the baseline) is a cell with a zero on
the other side, never dropped. When the baseline folded rare categories into
``other`` (``baseline.other > 0``), a production category the baseline did not
keep may be one of those folded ones, so it is counted in the folded cell on the
production side too; when the baseline folded nothing, it is a new cell. The folded
cell is its own cell: a user category named ``__other__`` is an ordinary category.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from monitoring_pipelines.stats.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericalProfile,
)


def aligned_counts(
    reference: ColumnProfile, current: ColumnProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the two profiles on common cells, as float64 vectors of equal length."""
    if isinstance(reference, NumericalProfile) and isinstance(current, NumericalProfile):
        if reference.edges.shape != current.edges.shape or not np.array_equal(
            reference.edges, current.edges
        ):
            raise ValueError("numerical profiles must share the baseline's bin edges")
        if exact_values(reference, current):
            _, ref_counts, cur_counts = value_cells(reference, current)
            return ref_counts, cur_counts
        return reference.counts.astype(np.float64), current.counts.astype(np.float64)
    if isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile):
        return _aligned_categories(reference, current)
    raise ValueError(
        f"cannot compare a {reference.kind.value} baseline with a {current.kind.value} window"
    )


def _aligned_categories(
    reference: CategoricalProfile, current: CategoricalProfile
) -> tuple[np.ndarray, np.ndarray]:
    ref = reference.counts
    ref_other, cur_other = reference.other, current.other
    cur: dict[str, int] = {}
    for category, n in current.counts.items():
        if category in ref or not ref_other:
            cur[category] = n
        else:
            cur_other += n
    # the baseline's order, then new categories as counted: not a set's, which hangs on the
    # process's string hashes and so changes the sums' last bits from one process to the next
    cells = [*ref, *(category for category in cur if category not in ref)]
    ref_counts = list(map(ref.get, cells, repeat(0)))
    cur_counts = list(map(cur.get, cells, repeat(0)))
    if ref_other or cur_other:
        ref_counts.append(ref_other)
        cur_counts.append(cur_other)
    return np.asarray(ref_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64)


def exact_values(reference: NumericalProfile, current: NumericalProfile) -> bool:
    """Whether both sides count every finite value exactly (discrete, nothing folded)."""
    return (
        reference.values is not None
        and current.values is not None
        and reference.other == 0
        and current.other == 0
    )


def value_cells(
    reference: NumericalProfile, current: NumericalProfile
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``[-inf, v1 < … < vk, +inf]`` (the distinct finite values of both sides) and
    the two profiles' counts there (float64), for profiles with :func:`exact_values`."""
    positions = np.array(sorted(reference.values.keys() | current.values.keys()), dtype=float)
    counts = []
    for profile in (reference, current):
        at = map(profile.values.get, positions.tolist(), repeat(0))
        counts.append(np.array([profile.neg_inf, *at, profile.pos_inf], dtype=np.float64))
    return np.concatenate(([-np.inf], positions, [np.inf])), counts[0], counts[1]


def coarsen(
    ref_counts: np.ndarray, cur_counts: np.ndarray, max_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent inner bins into at most ``max_bins`` groups of about equal baseline mass.

    The outer bins stay separate (they hold the out-of-range values). With quantile
    edges this turns, e.g., 40 stored bins into the conventional deciles.
    """
    inner = ref_counts[1:-1]
    if inner.size <= max_bins:
        return ref_counts, cur_counts
    total = inner.sum()
    before = (np.cumsum(inner) - inner) / total if total else np.arange(inner.size) / inner.size
    group = np.minimum((before * max_bins + 1e-9).astype(np.int64), max_bins - 1)
    boundaries = np.flatnonzero(group[1:] != group[:-1]) + 2
    starts = np.concatenate(([0, 1], boundaries, [ref_counts.size - 1]))
    return np.add.reduceat(ref_counts, starts), np.add.reduceat(cur_counts, starts)


def coarsen_rows(
    ref_counts: np.ndarray, cur_counts: np.ndarray, max_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`coarsen` of each row of two (rows × bins) stacks at once: the same groups, each
    row's sums in ``max_bins`` + 2 cells (a group no bin falls into is a cell of zeros)."""
    rows, bins = ref_counts.shape
    inner = ref_counts[:, 1:-1]
    if inner.shape[1] <= max_bins:
        return ref_counts, cur_counts
    total = inner.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        before = (np.cumsum(inner, axis=1) - inner) / total
    before = np.where(total > 0, before, np.arange(inner.shape[1]) / inner.shape[1])
    group = np.minimum((before * max_bins + 1e-9).astype(np.int64), max_bins - 1)
    width = max_bins + 2
    cells = np.empty((rows, bins), dtype=np.int64)
    cells[:, 0], cells[:, -1], cells[:, 1:-1] = 0, width - 1, group + 1
    flat = (cells + width * np.arange(rows)[:, None]).ravel()
    out = [
        np.bincount(flat, weights=m.ravel(), minlength=rows * width).reshape(rows, width)
        for m in (ref_counts, cur_counts)
    ]
    return out[0], out[1]


def proportions(counts: np.ndarray) -> np.ndarray:
    """Counts divided by their total (the caller guarantees a positive total), row by row
    for a stack of count vectors."""
    return counts / counts.sum(axis=-1, keepdims=True)
