"""Stacks of aligned counts for the stacked drift metrics (``metrics.stacked``): each
(baseline, window) pair aligned once, histograms on shared edges stacked straight, rows
grouped by their number of cells."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import aligned_counts, exact_values
from monitoring_pipelines.stats.profile import ColumnProfile, NumericalProfile

Pair = tuple[ColumnProfile, ColumnProfile]


class Cells:
    """Aligned counts of each (baseline, window) pair, computed once and shared by metrics."""

    def __init__(self) -> None:
        self._aligned: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def of(self, reference: ColumnProfile, current: ColumnProfile) -> tuple[np.ndarray, ...]:
        key = (id(reference), id(current))
        if key not in self._aligned:
            self._aligned[key] = aligned_counts(reference, current)
        return self._aligned[key]


def histograms(pairs: Sequence[Pair]) -> list[int]:
    """Indices of the pairs whose cells are their bin counts (numerical, not counted by value)."""
    return [
        i
        for i, (r, c) in enumerate(pairs)
        if isinstance(r, NumericalProfile)
        and isinstance(c, NumericalProfile)
        and not exact_values(r, c)
    ]


def stacked_counts(
    pairs: Sequence[Pair], indices: Sequence[int]
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """Bin-count stacks (float64) of histogram pairs, by number of bins; refuses pairs whose
    edges differ, as :func:`aligned_counts` does."""
    by_size: dict[int, list[int]] = defaultdict(list)
    for i in indices:
        by_size[pairs[i][0].counts.size].append(i)
    for group in by_size.values():
        ref_edges = np.stack([pairs[i][0].edges for i in group])
        cur_edges = [pairs[i][1].edges for i in group]
        if any(e.shape != ref_edges.shape[1:] for e in cur_edges) or not np.array_equal(
            ref_edges, np.stack(cur_edges)
        ):
            raise ValueError("numerical profiles must share the baseline's bin edges")
        ref = np.stack([pairs[i][0].counts for i in group]).astype(np.float64)
        cur = np.stack([pairs[i][1].counts for i in group]).astype(np.float64)
        yield group, ref, cur


def by_width(
    rows: Sequence[tuple[int, np.ndarray, np.ndarray]],
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """Stacks of (index, reference cells, window cells) rows of equal length."""
    by_size: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = defaultdict(list)
    for row in rows:
        by_size[row[1].size].append(row)
    for group in by_size.values():
        yield (
            [i for i, _, _ in group],
            np.stack([r for _, r, _ in group]),
            np.stack([c for _, _, c in group]),
        )
