"""``wasserstein`` over stacked histograms: the binned W1 of many (column, window) pairs in
one array operation per step, equal to :func:`~.wasserstein.wasserstein` pair by pair.

Pairs counted by value (discrete columns, exact on their value cells) and histograms of a
single bin are few and scored by the one-pair function.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monitoring_pipelines.stats.metrics.bounds import cdf_difference_range
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.metrics.stacked_cells import Cells, Pair, histograms, stacked_counts
from monitoring_pipelines.stats.metrics.wasserstein import (
    DEFAULT_STD_FLOOR,
    bin_integrals,
    wasserstein,
)


def stacked_wasserstein(
    pairs: Sequence[Pair],
    cells: Cells,
    *,
    std_floor: float = DEFAULT_STD_FLOOR,
) -> list[Measurement]:
    """Normalised W1 of every pair, tails anchored on the exact means, with its error bound."""
    out: list[Measurement | None] = [None] * len(pairs)
    direct = [i for i in histograms(pairs) if pairs[i][0].edges.size > 2] if std_floor > 0 else []
    for group, ref, cur in stacked_counts(pairs, direct):
        chosen = [pairs[i] for i in group]
        for i, measurement in zip(group, _rows(chosen, ref, cur, std_floor), strict=True):
            out[i] = measurement
    for i, (r, c) in enumerate(pairs):
        if out[i] is None:
            out[i] = wasserstein(r, c, std_floor=std_floor)
    return out


def _column(pairs, name: str, side: int) -> np.ndarray:
    return np.array([getattr(pair[side], name) for pair in pairs], dtype=np.float64)[:, None]


def _rows(pairs, ref: np.ndarray, cur: np.ndarray, std_floor: float) -> list[Measurement]:
    """The measurements of pairs of one bin count, from their stacked counts."""
    lowest = np.fmin(_column(pairs, "min", 0), _column(pairs, "min", 1))
    highest = np.fmax(_column(pairs, "max", 0), _column(pairs, "max", 1))
    edges = np.stack([r.edges for r, _ in pairs])
    x = edges.copy()
    x[:, :1] = np.fmin(lowest, x[:, 1:2])
    x[:, -1:] = np.fmax(highest, x[:, -2:-1])
    diff = np.zeros(x.shape)
    diff[:, 1:] = np.cumsum(ref, axis=1) / ref.sum(axis=1, keepdims=True)
    diff[:, 1:] -= np.cumsum(cur, axis=1) / cur.sum(axis=1, keepdims=True)
    absolute, signed = bin_integrals(diff[:, :-1], diff[:, 1:], np.diff(x, axis=1))
    infinite = sum(_column(pairs, name, side) for name in ("pos_inf", "neg_inf") for side in (0, 1))
    gap = _column(pairs, "mean", 1) - _column(pairs, "mean", 0)
    low, high = signed[:, :2].sum(axis=1), signed[:, -2:].sum(axis=1)
    residual = gap[:, 0] - (signed[:, 2:-2].sum(axis=1) + low + high)
    either = (low != 0) | (high != 0)
    weight_low, weight_high = (
        np.where(either, np.abs(low), 1.0),
        np.where(either, np.abs(high), 1.0),
    )
    low = low + residual * weight_low / (weight_low + weight_high)
    high = high + residual * weight_high / (weight_low + weight_high)
    anchored = absolute[:, 2:-2].sum(axis=1) + np.abs(low) + np.abs(high)
    simple = (x.shape[1] < 6) | (infinite[:, 0] > 0)
    distance = np.where(simple, absolute.sum(axis=1), anchored)
    std = np.array([r.std for r, _ in pairs])
    scale = np.where(std > std_floor, std, std_floor)
    bound = _bounds(pairs, ref, cur, edges, lowest, highest, gap, distance) / scale
    finite = (_column(pairs, "n_finite", 0) > 0) & (_column(pairs, "n_finite", 1) > 0)
    out = []
    rows = zip(distance.tolist(), scale.tolist(), bound.tolist(), finite[:, 0], strict=True)
    for d, s, b, bounded in rows:
        detail = {"distance": d, "scale": s} | ({"error_bound": b} if bounded else {})
        out.append(Measurement(value=d / s, detail=detail))
    return out


def _bounds(pairs, ref, cur, edges, lowest, highest, gap, distance) -> np.ndarray:
    """``w1_range``'s interval around each distance, as the largest gap to the distance."""
    ref_finite, cur_finite = ref.copy(), cur.copy()
    ref_finite[:, 0] -= _column(pairs, "neg_inf", 0)[:, 0]
    ref_finite[:, -1] -= _column(pairs, "pos_inf", 0)[:, 0]
    cur_finite[:, 0] -= _column(pairs, "neg_inf", 1)[:, 0]
    cur_finite[:, -1] -= _column(pairs, "pos_inf", 1)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        smallest, largest = cdf_difference_range(ref_finite, cur_finite)
        width = np.diff(np.clip(edges, lowest, highest), axis=1)
        lower = np.maximum(np.sum(smallest * width, axis=1), np.abs(gap[:, 0]))
        upper = np.sum(largest * width, axis=1)
    return np.maximum(np.maximum(upper - distance, distance - lower), 0.0)
