"""The fused one-pass numerical kernel: bins, missing, ±inf, exact values and moments at once.

One loop over a column reads each value once: NaN and ±inf are counted apart, a finite
value finds its bin through :mod:`~monitoring_pipelines.stats.bin_table` (no search per
value, no sort), and, on a discrete baseline, is counted exactly when it equals a baseline
value (every baseline value is an edge) or counted as new, in the same increment (each bin
split in two cells: on its left edge or not). The moments are those of
Welford and Chan: each sub-block of :data:`SUB_BLOCK` values sums its deviations, and
their squares, from the mean of the blocks before it (shifted data: small numbers, so
its M2 does not cancel), and sub-blocks are combined with Chan's formula; all on the
values less the column's first finite value (so 1e9 + noise sums the noise). The result
is as stable as the sort path's two passes (tests/stats/test_kernel.py checks both
against exact sums) and merges the same way.

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
    SUB_SHIFT,
    SUB_SIZE,
    TOP_OFFSET,
    TOP_SHIFT,
    table_for,
)

SUB_BLOCK = 2048
LANES = 4  # interleaved histograms: a repeated bin does not wait on its last increment
_LOW63 = 0x7FFF_FFFF_FFFF_FFFF


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
    """The counting loop, specialized for a continuous or a discrete baseline at compile
    time (a run-time test inside the loop costs half its speed)."""

    cells = 2 if discrete else 1

    def count_column(x, bits, inner, top, sub, counts):
        """Count one column into ``counts`` (LANES × bins); on a discrete baseline (LANES ×
        2 bins) bin ``b`` is two cells: ``2b + 1`` counts the values equal to the bin's left
        edge, ``2b`` the others, so each value costs one increment, not two.
        Returns (missing, +inf, -inf, n, mean, M2, min, max)."""
        last = (inner.size - 1) * cells
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
            stop = min(start + SUB_BLOCK, x.size)
            pivot = mean if total else 0.0  # deviations from the mean so far stay small
            block_sum = 0.0
            block_squares = 0.0
            k = 0
            for i in range(start, stop):
                v = x[i]
                if v - v != 0.0:  # NaN or ±inf
                    if v != v:
                        missing += 1
                    elif v > 0.0:
                        pos_inf += 1
                        counts[0, last] += 1
                    else:
                        neg_inf += 1
                        counts[0, 0] += 1
                    continue
                b = bits[i]
                sign = b >> 63
                key = (b ^ (sign & _LOW63)) - sign
                at = top[(key >> TOP_SHIFT) + TOP_OFFSET]
                if at < 0:
                    at = sub[(-1 - at) * SUB_SIZE + ((key >> SUB_SHIFT) & (SUB_SIZE - 1))]
                # a cell holds at most CROWDED edges: pass them with no branch to mispredict
                at += inner[at] <= v
                at += inner[at] <= v
                while inner[at] <= v:
                    at += 1
                if discrete:  # inner[-1] is +inf: bin 0 has no left edge to equal
                    counts[i & (LANES - 1), 2 * at + (v == inner[at - 1])] += 1
                else:
                    counts[i & (LANES - 1), at] += 1
                d = (v - shift) - pivot
                block_sum += d
                block_squares += d * d
                k += 1
                low = min(low, v)
                high = max(high, v)
            if k == 0:
                continue
            block_mean = pivot + block_sum / k
            block_m2 = max(block_squares - block_sum * block_sum / k, 0.0)
            n = total + k
            delta = block_mean - mean
            mean += delta * k / n
            m2 += block_m2 + delta * delta * total * k / n
            total = n
        mean += shift
        if total == 0:
            mean, low, high = np.nan, np.nan, np.nan
        return missing, pos_inf, neg_inf, total, mean, m2, low, high

    return count_column


def numba_jit() -> Callable[[Callable], Callable] | None:
    """numba's compiler as our kernels use it (no GIL, cached on disk, numpy's float errors),
    or None when numba is missing or its JIT is disabled, so callers take the numpy path."""
    try:
        import numba
    except ImportError:
        return None
    if numba.config.DISABLE_JIT:
        return None
    return numba.njit(nogil=True, cache=True, error_model="numpy")


@cache
def compiled() -> SimpleNamespace | None:
    """The numba-compiled kernel, or None when numba cannot compile it."""
    jit = numba_jit()
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
    lanes = np.zeros((LANES, (edges.size - 1) * (2 if discrete else 1)), dtype=np.int64)
    count_column = kernel.discrete if discrete else kernel.continuous
    missing, pos_inf, neg_inf, n, mean, m2, low, high = count_column(
        x, x.view(np.int64), table.inner, table.top, table.sub, lanes
    )
    counts = lanes.sum(axis=0)
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
