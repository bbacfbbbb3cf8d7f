"""The fused numerical kernel: bins, missing, ±inf, exact values and moments, block by block.

A column is counted in blocks of :data:`SUB_BLOCK` values. A block's first loop reads each
value once: NaN and ±inf are counted apart, a finite value finds its bin through
:mod:`~monitoring_pipelines.stats.bin_table` (no search per value, no sort, indices kept
unsigned so numba adds no wraparound test) and, on a discrete baseline, is counted exactly
when it equals an edge (every baseline value is one), in the same increment (each bin split
in two cells: on its left edge or not). That loop does nothing else, so its values stay in
registers; the block's moments are then summed by a second loop over the block while it is
in cache, which has no histogram in it and runs in SIMD lanes (numba compiles it with
reassociation only: NaN tests keep their meaning). The moments are those of Welford and
Chan: each block sums its deviations, and their squares, from the mean of the blocks
before it (small numbers, so its M2 does not cancel), and blocks are combined with Chan's
formula; all on the values less the column's first finite value (so 1e9 + noise sums the
noise). On a discrete baseline a value on an edge *is* that edge's value, so the moments
and extremes of those values follow from the exact counts (two passes over the bins, not
the values) and only the rare values off the edges are summed one by one. The result is as
stable as the sort path's two passes (tests/stats/test_kernel.py checks both against exact
sums) and merges the same way.

Compiled with numba (``nogil``, so columns run in parallel threads; ``cache``, so a
process after the first loads the machine code from disk). When numba cannot load,
:func:`count` returns None and the caller counts with numpy instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

import numpy as np

from monitoring_pipelines.stats.bin_table import (
    SUB_MASK,
    SUB_SHIFT,
    SUB_STRIDE,
    TOP_SHIFT,
    table_for,
)

SUB_BLOCK = 2048
LANES = 4  # interleaved histograms: a repeated bin does not wait on its last increment
# unsigned, as the table's constants: numba keeps index arithmetic free of wraparound
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_LANE_BITS = np.uint64(LANES.bit_length() - 1)


@dataclass(frozen=True, eq=False)
class Counted:
    """What one pass over a block found; ``values`` are exact counts (baseline values first,
    then new ones in increasing order) when the baseline is discrete, else None."""

    counts: np.ndarray
    missing: int
    pos_inf: int
    neg_inf: int
    n_finite: int
    mean: float
    m2: float
    min: float
    max: float
    values: dict[float, int] | None


def _column_counter(discrete: bool):
    """The counting function, specialized for a continuous or a discrete baseline at compile
    time (a run-time test inside the loop costs half its speed)."""

    cells = 2 if discrete else 1

    def count_column(x, lead, top, sub, counts):
        """Count column ``x`` into ``counts`` (cells × LANES, flat; on a discrete baseline bin
        ``b`` is two cells: ``2b + 1`` counts the values equal to the bin's left edge, ``2b``
        the others, so each value costs one increment, not two).
        Returns (missing, +inf, -inf, n, mean, M2, min, max)."""

        def merged(n, mean, m2, k, pivot, block_sum, block_squares):
            """Chan's combination of (n, mean, M2) with a block of ``k`` values whose
            deviations from ``pivot`` sum to ``block_sum``, their squares to ``block_squares``."""
            if k == 0:
                return n, mean, m2
            block_mean = pivot + block_sum / k
            block_m2 = max(block_squares - block_sum * block_sum / k, 0.0)
            total = n + k
            delta = block_mean - mean
            return total, mean + delta * k / total, m2 + block_m2 + delta * delta * n * k / total

        last = counts.size - cells * LANES
        missing = pos_inf = neg_inf = 0
        total = 0
        mean = 0.0
        m2 = 0.0
        low = np.inf
        high = -np.inf
        shift = 0.0  # moments of x - shift: sums of small deviations, not of 1e9 + noise
        for v in x:
            if v - v == 0.0:
                shift = v
                break
        for start in range(0, x.size, SUB_BLOCK):
            block = x[start : start + SUB_BLOCK]  # a view: its indices need no wraparound
            bits = block.view(np.uint64)
            pivot = mean  # deviations from the mean so far stay small
            block_sum = 0.0
            block_squares = 0.0
            k = 0  # discrete: the values off the edges, summed in the loop
            skipped = 0
            for i in range(block.size):
                v = block[i]
                if v - v != 0.0:  # NaN or ±inf
                    skipped += 1
                    if v != v:
                        missing += 1
                    elif v > 0.0:
                        pos_inf += 1
                        counts[last] += 1
                    else:
                        neg_inf += 1
                        counts[0] += 1
                    continue
                b = bits[i]
                t = top[b >> TOP_SHIFT]
                if t < 0:
                    t = sub[np.uint64(-1 - t) * SUB_STRIDE + ((b >> SUB_SHIFT) & SUB_MASK)]
                    if t < 0:  # edges a few ulps apart: scan them
                        t = -1 - t
                        while lead[t + 1] <= v:
                            t += 1
                at = np.uint64(t)
                # at most CROWDED edges left in the cell: pass them with no branch to mispredict
                at += np.uint64(lead[at + _ONE] <= v) + np.uint64(lead[at + _TWO] <= v)
                lane = np.uint64(i & (LANES - 1))
                if discrete:
                    on_edge = v == lead[at]  # the bin's left edge (lead[0] is NaN)
                    counts[((_TWO * at + np.uint64(on_edge)) << _LANE_BITS) | lane] += 1
                    if on_edge:  # then its moments and extremes follow from the counts
                        continue
                    d = (v - shift) - pivot
                    block_sum += d
                    block_squares += d * d
                    k += 1
                else:
                    counts[(at << _LANE_BITS) | lane] += 1
                low = min(low, v)
                high = max(high, v)
            if not discrete:  # no histogram in this loop: it runs in SIMD lanes
                k = block.size - skipped
                for i in range(block.size):
                    v = block[i]
                    d = (v - shift) - pivot
                    d = d if v - v == 0.0 else 0.0
                    block_sum += d
                    block_squares += d * d
            total, mean, m2 = merged(total, mean, m2, k, pivot, block_sum, block_squares)
        if discrete:  # the values on an edge: each is its edge's value, counted exactly
            k = 0
            deviations = 0.0
            # cell j // LANES; an odd cell counts bin j // LANES // 2's left edge, lead[bin]
            first = 3 * LANES  # cell 1 is bin 0's, which has no left edge
            for j in range(first, counts.size):
                if (j // LANES) & 1 and counts[j]:
                    k += counts[j]
                    deviations += counts[j] * (lead[j // (2 * LANES)] - shift)
                    low = min(low, lead[j // (2 * LANES)])
                    high = max(high, lead[j // (2 * LANES)])
            hit_mean = deviations / k if k else 0.0
            hit_m2 = 0.0
            for j in range(first, counts.size):
                if (j // LANES) & 1 and counts[j]:
                    d = (lead[j // (2 * LANES)] - shift) - hit_mean
                    hit_m2 += counts[j] * d * d
            total, mean, m2 = merged(total, mean, m2, k, hit_mean, 0.0, hit_m2)
        mean += shift
        if total == 0:
            mean, low, high = np.nan, np.nan, np.nan
        return missing, pos_inf, neg_inf, total, mean, m2, low, high

    return count_column


def numba_jit(**options: object) -> Callable[[Callable], Callable] | None:
    """numba's compiler as our kernels use it (no GIL, cached on disk, numpy's float errors,
    plus ``options``), or None when numba is missing or its JIT is disabled, so callers take
    the numpy path."""
    try:
        import numba
    except ImportError:
        return None
    if numba.config.DISABLE_JIT:
        return None
    return numba.njit(nogil=True, cache=True, error_model="numpy", **options)


@cache
def compiled() -> SimpleNamespace | None:
    """The numba-compiled kernel, or None when numba cannot compile it. Reassociation (and
    fused multiply-adds, no other fast-math: NaN tests keep their meaning) lets the sums of a
    block run in SIMD lanes; it moves roundings only by a constant offset of the deviations,
    which the M2 of a block does not see."""
    jit = numba_jit(fastmath={"reassoc", "contract"})
    if jit is None:
        return None
    return SimpleNamespace(
        continuous=jit(_column_counter(discrete=False)),
        discrete=jit(_column_counter(discrete=True)),
    )


def count(
    x: np.ndarray, edges: np.ndarray, reference_values: tuple[float, ...] | None
) -> Counted | None:
    """One pass over float64 ``x`` on validated ``edges``; None when the kernel is unavailable
    or a discrete baseline has a value that is not one of its edges (then numpy counts)."""
    kernel = compiled()
    if kernel is None:
        return None
    table = table_for(edges)
    refpos = _positions(edges.tobytes(), reference_values)
    if refpos is None:
        return None
    x = np.ascontiguousarray(x, dtype=np.float64)
    discrete = reference_values is not None
    lanes = np.zeros(((edges.size - 1) * (2 if discrete else 1), LANES), dtype=np.int64)
    count_column = kernel.discrete if discrete else kernel.continuous
    missing, pos_inf, neg_inf, n, mean, m2, low, high = count_column(
        x, table.lead, table.top, table.sub, lanes.reshape(-1)
    )
    counts = lanes.sum(axis=1)
    values = None
    if discrete:
        cells = counts.reshape(-1, 2)
        counts = cells.sum(axis=1)
        values = _exact(x, cells[:, 1], refpos, reference_values, int(n))
    return Counted(
        counts=counts,
        missing=int(missing),
        pos_inf=int(pos_inf),
        neg_inf=int(neg_inf),
        n_finite=int(n),
        mean=float(mean),
        m2=float(m2),
        min=float(low),
        max=float(high),
        values=values,
    )


def _exact(
    x: np.ndarray,
    hits: np.ndarray,
    refpos: np.ndarray,
    reference_values: tuple[float, ...],
    n_finite: int,
) -> dict[float, int]:
    """Exact counts: a baseline value's count is the hits of the bin it starts; new values
    (rare on a discrete baseline) are found by a second look only when there are some."""
    has_value = refpos >= 0
    exact = np.zeros(len(reference_values), dtype=np.int64)
    exact[refpos[has_value]] = hits[has_value]
    values = dict(zip(reference_values, exact.tolist(), strict=True))
    if int(exact.sum()) == n_finite:
        return values
    finite = x[np.isfinite(x)] + 0.0
    new, runs = np.unique(finite[~np.isin(finite, reference_values)], return_counts=True)
    return values | dict(zip(new.tolist(), runs.tolist(), strict=True))


@cache
def _positions(edges_bytes: bytes, reference_values: tuple[float, ...] | None) -> np.ndarray | None:
    """For each bin, the index of the baseline value its left edge equals (-1 for none);
    an empty array for a continuous baseline, None if a baseline value is not an edge."""
    if reference_values is None:
        return np.zeros(0, dtype=np.int64)
    finite = np.frombuffer(edges_bytes, dtype=np.float64)[1:-1]
    refs = np.asarray(reference_values, dtype=np.float64)
    at = np.searchsorted(finite, refs, side="left")
    if np.any(at >= finite.size) or np.any(finite[np.minimum(at, finite.size - 1)] != refs):
        return None
    positions = np.full(finite.size + 1, -1, dtype=np.int64)
    positions[at + 1] = np.arange(refs.size)
    positions.setflags(write=False)
    return positions
