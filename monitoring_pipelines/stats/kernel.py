"""The fused numerical kernel: bins, missing, ±inf, exact values and moments, block by block.

A column is counted in blocks of :data:`~monitoring_pipelines.stats.loops.SUB_BLOCK` values.
A block's first loop reads each value once and finds its cell through
:mod:`~monitoring_pipelines.stats.bin_table` (no search per value, no sort, indices kept
unsigned so numba adds no wraparound test): NaN and ±inf have cells of their own after the
bins, so the loop tests nothing per value and only counts, its values in registers, into
:data:`~monitoring_pipelines.stats.loops.LANES` interleaved histograms (value ``i`` of a
round into histogram ``i``, a round's lanes unrolled: a column that is mostly one value does
not wait on that bin's last increment; a block's last values, fewer than a round, go to the
first), summed at the end. The block's moments are then summed by a second loop over the
block while it is in cache, which has no histogram in it and runs in SIMD lanes (numba
compiles it with reassociation only: NaN tests keep their meaning), with the extremes (as
integer order keys, which vectorize where a float ``min`` does not); the block's finite
count is its size less what the first loop put in the cells of NaN and ±inf. The moments are
those of Welford and Chan: each block sums its deviations, and their squares, from the mean
of the blocks before it (small numbers, so its M2 does not cancel), and blocks are combined
with Chan's formula; all on the values less the column's first finite value (so 1e9 + noise
sums the noise). The result is as stable as the sort path's two passes
(tests/stats/test_kernel.py checks both against exact sums) and merges the same way. A
discrete baseline is counted by the same loop on split edges: each baseline value ``e`` is
followed by the next float above it, so the cell ``[e, next)`` counts exactly the values
equal to ``e`` and the bin is the sum of its cells. Values off the baseline's (rare) are
counted, when a block has some, by a second compiled pass that keeps them by their bits in a
small open-addressing table (numpy's sort only when they are too many distinct for it).

The loops are compiled with numba (:mod:`~monitoring_pipelines.stats.loops`: ``nogil``, so
columns run in parallel threads; ``cache``, so a process after the first loads the machine
code from disk). When numba cannot load,
:func:`count` returns None and the caller counts with numpy instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import ModuleType

import numpy as np

from monitoring_pipelines.stats.bin_table import BinTable, table_for

NEW_VALUE_SLOTS = 4096  # the hash table of a block's new values: up to half of it distinct


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


@cache
def compiled() -> ModuleType | None:
    """The compiled loops (:mod:`~monitoring_pipelines.stats.loops`), or None when numba is
    missing or its JIT is disabled, so callers take the numpy path."""
    try:
        import numba
    except ImportError:
        return None
    if numba.config.DISABLE_JIT:
        return None
    from monitoring_pipelines.stats import loops

    return loops


def count(
    x: np.ndarray, edges: np.ndarray, reference_values: tuple[float, ...] | None
) -> Counted | None:
    """One pass over float64 ``x`` on validated ``edges``; None when the kernel is unavailable
    or a discrete baseline has a value that is not one of its edges, or edges one ulp apart
    or at the largest float (then numpy counts)."""
    kernel = compiled()
    if kernel is None:
        return None
    refpos = _positions(edges.tobytes(), reference_values)
    if refpos is None:
        return None
    discrete = reference_values is not None
    split = _split(edges.tobytes(), reference_values) if discrete else (edges, None, None)
    if split is None:
        return None
    cells, starts, valued = split
    table = table_for(cells)
    x = np.ascontiguousarray(x, dtype=np.float64)
    # the bins, then the counting cells of NaN, +inf and -inf (bin_table)
    lanes = np.zeros((cells.size + 2, kernel.LANES), dtype=np.int64)
    n, mean, m2, low, high, shift = kernel.continuous(
        x, table.lead, table.top, table.sub, lanes.reshape(-1)
    )
    counts = lanes.sum(axis=1)
    missing, pos_inf, neg_inf = counts[-3:].tolist()
    counts = counts[:-3]
    counts[-1] += pos_inf  # the open-ended outer bins hold ±inf
    counts[0] += neg_inf
    values = None
    if discrete:  # a bin's first cell holds the values on its left edge (bin 0 has none)
        hits = counts[starts]
        hits[0] = 0
        counts = np.add.reduceat(counts, starts)
        values = _exact(kernel, x, table, valued, hits, refpos, reference_values, int(n))
    return Counted(
        counts=counts,
        missing=int(missing),
        pos_inf=int(pos_inf),
        neg_inf=int(neg_inf),
        n_finite=int(n),
        mean=float(mean) + shift if n else np.nan,
        m2=float(m2),
        min=float(low) if n else np.nan,
        max=float(high) if n else np.nan,
        values=values,
    )


@cache
def _split(
    edges_bytes: bytes, reference_values: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Edges on which a discrete baseline's bins are counted, and where each bin's cells
    start: an edge ``e`` that is a baseline value is followed by the next float above it, so
    the cell ``[e, next)`` holds exactly the values equal to ``e`` (-0.0 too) and the cell
    after it the rest of the bin, unless the next edge is that float (then all the bin's
    values equal ``e``); other bins stay one cell (only baseline values are counted by their
    cell); and which cells are a baseline value's. None when a baseline value is the largest
    float (no float above it)."""
    edges = np.frombuffer(edges_bytes, dtype=np.float64)
    finite = edges[1:-1]
    with np.errstate(over="ignore"):  # above the largest float is inf: refused below
        above = np.nextafter(finite, np.inf)
    valued = _positions(edges_bytes, reference_values)[1:] >= 0
    if np.any(np.isinf(above[valued])):
        return None
    split = valued & (above < edges[2:])
    cells = np.concatenate(([-np.inf], np.column_stack((finite, above)).ravel(), [np.inf]))
    cells = np.delete(cells, 2 + 2 * np.flatnonzero(~split))
    starts = np.concatenate(([0], 1 + np.arange(finite.size) + np.cumsum(split) - split))
    valued_cells = np.zeros(cells.size - 1, dtype=np.bool_)
    valued_cells[starts[1:][valued]] = True
    for array in (cells, starts, valued_cells):
        array.setflags(write=False)
    return cells, starts, valued_cells


def _exact(
    loops: ModuleType,
    x: np.ndarray,
    table: BinTable,
    valued: np.ndarray,
    hits: np.ndarray,
    refpos: np.ndarray,
    reference_values: tuple[float, ...],
    n_finite: int,
) -> dict[float, int]:
    """Exact counts: a baseline value's count is the hits of the bin it starts; new values
    (rare on a discrete baseline) are counted by a second pass only when there are some."""
    has_value = refpos >= 0
    exact = np.zeros(len(reference_values), dtype=np.int64)
    exact[refpos[has_value]] = hits[has_value]
    values = dict(zip(reference_values, exact.tolist(), strict=True))
    if int(exact.sum()) == n_finite:
        return values
    return values | _new_values(loops, x, table, valued, reference_values)


def _new_values(
    loops: ModuleType,
    x: np.ndarray,
    table: BinTable,
    valued: np.ndarray,
    reference_values: tuple[float, ...],
) -> dict[float, int]:
    """Counts of the finite values off the baseline's, in increasing order: a compiled pass
    into a small hash table, or numpy's sort when they are too many distinct for it."""
    keys = np.full(NEW_VALUE_SLOTS, loops.EMPTY, dtype=np.uint64)
    tallies = np.zeros(NEW_VALUE_SLOTS, dtype=np.int64)
    if loops.new_values(x, table.lead, table.top, table.sub, valued, keys, tallies) >= 0:
        used = keys != loops.EMPTY
        found, runs = keys[used].view(np.float64), tallies[used]
        order = np.argsort(found)
        new, runs = found[order], runs[order]
    else:
        finite = x[np.isfinite(x)] + 0.0
        new, runs = np.unique(finite[~np.isin(finite, reference_values)], return_counts=True)
    return dict(zip(new.tolist(), runs.tolist(), strict=True))


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
