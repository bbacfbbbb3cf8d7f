"""Guaranteed error bounds of the binned CDF metrics, from the aggregates alone.

Inside bin i the raw CDF difference D(x) = F_b(x) − F_c(x) is unknown, but it starts at
the edge value d_i (exact: the bin counts are exact) and each CDF rises by at most its
own bin share (p_i for the baseline, q_i for the window), so D(x) ∈ [d_i − q_i, d_i + p_i]
everywhere in the bin, and both ends are reachable (all of one side's mass at the bin's
left end, the other's at its right end). Every finite value lies in [min, max] of the two
profiles (stored exactly), which bounds the width of the open-ended outer bins.
"""

from __future__ import annotations

import numpy as np


def cdf_difference_range(
    ref_counts: np.ndarray, cur_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per bin, the smallest and largest |F_b(x) − F_c(x)| the raw samples can have there
    (the last axis holds the bins, so stacks of count vectors give one row each)."""
    p = ref_counts / ref_counts.sum(axis=-1, keepdims=True)
    q = cur_counts / cur_counts.sum(axis=-1, keepdims=True)
    start = np.zeros_like(p[..., :1])
    d = np.concatenate((start, np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1)), axis=-1)[..., :-1]
    low, high = d - q, d + p
    largest = np.maximum(np.abs(low), np.abs(high))
    smallest = np.where((low <= 0) & (high >= 0), 0.0, np.minimum(np.abs(low), np.abs(high)))
    return smallest, largest


def ks_bound(ref_counts: np.ndarray, cur_counts: np.ndarray, statistic: float) -> float:
    """Largest possible raw D minus the binned D (which is never above the raw D)."""
    _, largest = cdf_difference_range(ref_counts, cur_counts)
    return max(float(largest.max()) - statistic, 0.0)


def w1_range(
    ref_counts: np.ndarray, cur_counts: np.ndarray, positions: np.ndarray, mean_gap: float
) -> tuple[float, float]:
    """Interval holding the raw ∫|F_b − F_c| dx: bin widths (``positions``, the edges clipped
    to [min, max]) times the within-bin range of |D|; at least |μ_c − μ_b| (= |∫D dx|)."""
    smallest, largest = cdf_difference_range(ref_counts, cur_counts)
    width = np.diff(positions)
    return max(float(np.sum(smallest * width)), abs(mean_gap)), float(np.sum(largest * width))
