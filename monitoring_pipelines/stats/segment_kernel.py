"""The segmented numerical kernel: one pass over a column counts every segment at once.

Each value carries its segment's code; the loop finds the value's bin with the same
two-level table as :mod:`~monitoring_pipelines.stats.kernel` and adds into row ``code`` of
the accumulators (bins, missing, ±inf, and on a discrete baseline the hits of each bin's
left edge), so the cost is one read of the column whatever the number of segments. Moments
are kept as sums of deviations from a per-segment shift (the segment's first finite value),
``s1 = Σ(v - shift)`` and ``s2 = Σ(v - shift)²``, from which the mean and M2 follow exactly
enough (no cancellation: the deviations are small) and merge with Chan's formula.

The loop is compiled with numba (:mod:`~monitoring_pipelines.stats.loops`, sharing the bin
lookup with the unsegmented kernel); a numpy path gives the same numbers without it.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import numpy as np

from monitoring_pipelines.stats import kernel
from monitoring_pipelines.stats.binning import bin_index


@cache
def compiled() -> SimpleNamespace | None:
    """The numba-compiled loops, or None when numba cannot compile them."""
    loops = kernel.compiled()
    if loops is None:
        return None
    return SimpleNamespace(continuous=loops.segment_continuous, discrete=loops.segment_discrete)


def count_numpy(x, codes, edges, discrete, acc) -> None:
    """The same accumulation with numpy (bincounts on combined segment × bin indices)."""
    counts, hits = acc[0], acc[1]
    n_segments, n_bins = counts.shape
    finite = np.isfinite(x)
    nan = np.isnan(x)
    acc[2][:] += np.bincount(codes[nan], minlength=n_segments)
    acc[3][:] += np.bincount(codes[x == np.inf], minlength=n_segments)
    acc[4][:] += np.bincount(codes[x == -np.inf], minlength=n_segments)
    present = ~nan
    bins = bin_index(x[present], edges)
    combined = codes[present].astype(np.int64) * n_bins + bins
    counts += np.bincount(combined, minlength=counts.size).reshape(counts.shape)
    fx, fc = x[finite], codes[finite]
    if discrete:
        inner = edges[1:]
        fb = bins[finite[present]]
        on_edge = (fb > 0) & (fx == inner[np.maximum(fb - 1, 0)])
        flat = fc[on_edge].astype(np.int64) * n_bins + fb[on_edge]
        hits += np.bincount(flat, minlength=hits.size).reshape(hits.shape)
    for s in np.unique(fc):  # per segment present: new shifts, then sums (vectorized below)
        if acc[5][s] == 0:
            acc[6][s] = fx[np.argmax(fc == s)]
    d = fx - acc[6][fc]
    acc[7][:] += np.bincount(fc, weights=d, minlength=n_segments)
    acc[8][:] += np.bincount(fc, weights=d * d, minlength=n_segments)
    acc[5][:] += np.bincount(fc, minlength=n_segments)
    if fx.size:
        np.minimum.at(acc[9], fc, fx)
        np.maximum.at(acc[10], fc, fx)
