"""Bin edges for numerical columns, fitted once on the baseline.

Edges are quantiles of the baseline's finite values, duplicates collapsed (a
column with at most ``n_bins`` distinct values gets one bin per value), wrapped in open-ended outer
bins: ``[-inf, q0, q1, ..., qk, +inf]``. Bin ``i`` spans ``[edges[i], edges[i+1])``;
the last regular edge is nudged just above the baseline maximum so the maximum
falls in a regular bin and only values beyond the training range land in the
outer bins.
"""

from __future__ import annotations

import numpy as np

DEFAULT_BINS = 40


def quantile_edges(values: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Return bin edges (float64, ends ±inf) from the finite values of ``values``."""
    values = np.asarray(values, dtype=np.float64)
    return sorted_edges(np.sort(values[np.isfinite(values)]), n_bins)


def sorted_distinct(ordered: np.ndarray) -> np.ndarray:
    """``np.unique`` of values already sorted, without its second sort: the first of each run."""
    if ordered.size == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def sorted_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, q)`` (its linear method) of values already sorted, without its
    copy and partition of them (a baseline column's are sorted once): numpy's arithmetic on the
    neighbouring order statistics, step for step, so the same bits. Where a neighbour is zero
    numpy's partition may have swapped 0.0 and -0.0 (equal values, different bits), so numpy
    computes those (equal nonzero floats have the same bits)."""
    n = ordered.size
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    last = virtual >= n - 1  # numpy takes the last value there (index -1), as below
    previous[last] = -1
    following[last] = -1
    previous, following = previous.astype(np.intp), following.astype(np.intp)
    a, b = ordered[previous], ordered[following]
    if not (a.all() and b.all()):
        return np.quantile(ordered, q)
    gamma = virtual - previous
    diff = b - a
    result = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def sorted_edges(finite: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """:func:`quantile_edges` of finite values already sorted (a baseline column is sorted once
    for its edges and its distinct values)."""
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if finite.size == 0:
        return np.array([-np.inf, np.inf])
    distinct = sorted_distinct(finite)
    if distinct.size <= n_bins:
        # discrete data: one bin per distinct value
        interior = np.append(distinct, np.nextafter(distinct[-1], np.inf))
    else:
        interior = np.unique(sorted_quantiles(finite, np.linspace(0.0, 1.0, n_bins + 1)))
        interior[-1] = np.nextafter(interior[-1], np.inf)
    return np.concatenate(([-np.inf], interior, [np.inf]))


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the bin of each (non-NaN) value; ±inf land in the outer bins."""
    return np.searchsorted(edges[1:-1], values, side="right")


def validate_edges(edges: np.ndarray) -> np.ndarray:
    """Check that ``edges`` are strictly increasing float64 with ±inf ends."""
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"bin edges need at least 2 elements, got {edges.size}")
    if edges[0] != -np.inf or edges[-1] != np.inf:
        raise ValueError("bin edges must start at -inf and end at +inf")
    if np.any(np.isnan(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("bin edges must be strictly increasing and contain no NaN")
    return edges
