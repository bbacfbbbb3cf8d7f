"""The segmented numerical kernel: one pass over a column counts every segment at once.

Each value carries its segment's code; the loop finds the value's bin with the same
two-level table as :mod:`~monitoring_pipelines.stats.kernel` and adds into row ``code`` of
the accumulators (bins, missing, ±inf, and on a discrete baseline the hits of each bin's
left edge), so the cost is one read of the column whatever the number of segments. Moments
are kept as sums of deviations from a per-segment shift (the segment's first finite value),
``s1 = Σ(v - shift)`` and ``s2 = Σ(v - shift)²``, from which the mean and M2 follow exactly
enough (no cancellation: the deviations are small) and merge with Chan's formula.

Compiled with numba (``nogil``, ``cache``); a numpy path gives the same numbers without it.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import numpy as np

from monitoring_pipelines.stats.bin_table import SUB_MASK, SUB_SHIFT, SUB_STRIDE, TOP_SHIFT
from monitoring_pipelines.stats.binning import bin_index
from monitoring_pipelines.stats.kernel import numba_jit

_ONE = np.uint64(1)  # unsigned, as the table's constants: no negative-index wraparound
_TWO = np.uint64(2)


def _segmented_counter(discrete: bool):
    """The loop, specialized at compile time for a continuous or a discrete baseline."""

    def count(x, bits, codes, lead, top, sub, acc):
        """Add column ``x`` (segment of row i: ``codes[i]``) into ``acc``'s arrays."""
        counts, hits = acc[0], acc[1]
        missing, pos_inf, neg_inf, n = acc[2], acc[3], acc[4], acc[5]
        shift, s1, s2, low, high = acc[6], acc[7], acc[8], acc[9], acc[10]
        last = lead.size - 3
        for i in range(x.size):
            s = codes[i]
            v = x[i]
            if v - v != 0.0:  # NaN or ±inf
                if v != v:
                    missing[s] += 1
                elif v > 0.0:
                    pos_inf[s] += 1
                    counts[s, last] += 1
                else:
                    neg_inf[s] += 1
                    counts[s, 0] += 1
                continue
            b = bits[i]  # the bin, as in the unsegmented kernel
            t = top[b >> TOP_SHIFT]
            if t < 0:
                t = sub[np.uint64(-1 - t) * SUB_STRIDE + ((b >> SUB_SHIFT) & SUB_MASK)]
                if t < 0:
                    t = -1 - t
                    while lead[t + 1] <= v:
                        t += 1
            at = np.uint64(t)
            at += np.uint64(lead[at + _ONE] <= v) + np.uint64(lead[at + _TWO] <= v)
            counts[s, at] += 1
            if discrete:  # lead[0] is NaN: bin 0 has no left edge to equal
                hits[s, at] += v == lead[at]
            if n[s] == 0:
                shift[s] = v
            d = v - shift[s]
            s1[s] += d
            s2[s] += d * d
            n[s] += 1
            if v < low[s]:
                low[s] = v
            if v > high[s]:
                high[s] = v

    return count


@cache
def compiled() -> SimpleNamespace | None:
    """The numba-compiled loops, or None when numba cannot compile them."""
    jit = numba_jit()
    if jit is None:
        return None
    return SimpleNamespace(
        continuous=jit(_segmented_counter(discrete=False)),
        discrete=jit(_segmented_counter(discrete=True)),
    )


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
