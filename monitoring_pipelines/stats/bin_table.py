"""A two-level lookup table that finds the bin of a float in O(1) on any shape of edges.

The table's first level is indexed by a float's top 16 bits as they are (sign, exponent,
4 bits of mantissa: cells 1/16 of an octave wide, so heavy tails and values near zero get
cells on their own scale, like a table on the quantile scale); each entry is the number of
edges below the cell's lowest value, which is the bin of any value in the cell unless edges
fall inside it. A cell holding more than :data:`CROWDED` edges gets a second level on the
next 8 bits. The at most :data:`CROWDED` edges left inside a cell are passed by two
comparisons with no branch (``lead`` is padded with NaN, which no value passes, so both
always exist), so values on an edge land in the bin that starts there, as
:func:`monitoring_pipelines.stats.binning.bin_index` puts them. A second-level cell still
holding more (edges a few ulps apart) is marked, and only values in it scan their edges.
A cell of negative floats runs from its largest bit pattern (its lowest value) down; the
table is built on values, not bit order, so -0.0 and 0.0 both pass an edge at 0.0.

NaN and ±inf are looked up too, so a kernel needs no test per value: after the ``m + 1``
bins come three counting cells, ``m + 1`` for NaN, ``m + 2`` for +inf and ``m + 3`` for
-inf. The cells of NaNs lead straight to the first; the two cells that hold ±inf (and NaNs
with the lowest payloads) are marked like crowded ones, and the second-level lookup
(``loops.deeper``) tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TOP_BITS = 16
SUB_BITS = 8
SUB_SIZE = 1 << SUB_BITS
CROWDED = 2
# how the kernels index the table: unsigned, so numba adds no negative-index wraparound
TOP_SHIFT = np.uint64(64 - TOP_BITS)
SUB_SHIFT = np.uint64(64 - TOP_BITS - SUB_BITS)
SUB_STRIDE = np.uint64(SUB_SIZE)
SUB_MASK = np.uint64(SUB_SIZE - 1)
PADDING = 5  # NaNs after the edges: the comparisons past the last counting cell exist
MARKED = -1  # a top entry sending its values to the second level (±inf's cells: any < 0)
_SIGN = np.uint64(1 << 63)
_INFINITE_CELLS = (0x7FF0, 0xFFF0)  # the cells of +inf and -inf (with NaNs of low payload)
_NEGATIVE_ZERO_CELL = 1 << (TOP_BITS - 1)  # the cell of -0.0: its highest value is -0.0
_SPECIAL_CELLS = 0x7FF << (TOP_BITS - 12)  # exponent bits all set: NaN and ±inf


def _key_cells() -> tuple[np.ndarray, np.ndarray]:
    """For each first-level cell: its position in value order (the top bits of its floats'
    order key), and whether it holds NaN and ±inf (exponent bits all set)."""
    prefixes = np.arange(1 << TOP_BITS, dtype=np.intp)
    key_of = np.where(prefixes >> (TOP_BITS - 1), (1 << TOP_BITS) - 1 - prefixes, prefixes)
    key_of[: 1 << (TOP_BITS - 1)] |= 1 << (TOP_BITS - 1)
    return key_of, (prefixes & _SPECIAL_CELLS) == _SPECIAL_CELLS


_KEY_OF, _SPECIAL = _key_cells()


@dataclass(frozen=True, eq=False)
class BinTable:
    """``lead``: NaN, the ``m`` finite edges, :data:`PADDING` NaNs (edge ``j`` is
    ``lead[j + 1]``; the first NaN is the left edge of bin 0, which nothing equals);
    ``top``: the first level, a bin start (``m + 1`` for NaN's cells) or ``-1 - k`` for the
    ``k``-th block of :data:`SUB_SIZE` entries in ``sub`` (:data:`MARKED` for ±inf's cells);
    ``sub``: a bin start, or ``-1 - start`` for a cell whose edges must be scanned."""

    lead: np.ndarray
    top: np.ndarray
    sub: np.ndarray


def table_for(edges: np.ndarray) -> BinTable:
    """The (cached) table of validated ``edges`` (``-inf, e1, ..., em, +inf``)."""
    return _build(edges.tobytes())


def _cells(prefixes: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest float of the cells whose top ``bits`` bits are ``prefixes``
    (NaN for the cells of NaN and ±inf, which the kernels never look up)."""
    rest = np.uint64(64 - bits)
    first = prefixes << rest
    last = first | ((np.uint64(1) << rest) - np.uint64(1))
    negative = (prefixes >> np.uint64(bits - 1)).astype(bool)
    a, b = first.view(np.float64), last.view(np.float64)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(a) & np.isfinite(b)
    low = np.where(finite, np.where(negative, b, a), np.nan)
    high = np.where(finite, np.where(negative, a, b), np.nan)
    return low, high


def _starts(finite_edges: np.ndarray, prefixes: np.ndarray, bits: int) -> tuple:
    """Per cell: the edges below its lowest value and the edges inside it (0 for NaN cells)."""
    low, high = _cells(prefixes, bits)
    usable = ~np.isnan(low)
    below = np.zeros(prefixes.size, dtype=np.int64)
    inside = np.zeros(prefixes.size, dtype=np.int64)
    below[usable] = np.searchsorted(finite_edges, low[usable], side="left")
    inside[usable] = np.searchsorted(finite_edges, high[usable], side="right") - below[usable]
    return below, inside


def _top_starts(finite_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_starts` of every first-level cell without a search per cell: cells in value
    order are the top bits of a float's order key (the bits of a negative float inverted,
    a positive one's sign bit set), so the edges below a cell are those of the cells before
    it in that order, a cumulative count of the edges' keys; -0.0 edges count as 0.0 (the
    same value), and the one cell whose highest value is -0.0 also holds the edges at 0.0."""
    bits = (finite_edges + 0.0).view(np.uint64)  # + 0.0: an edge at -0.0 is the edge 0.0
    negative = bits >> np.uint64(63) == 1
    keys = (np.where(negative, ~bits, bits | _SIGN) >> TOP_SHIFT).astype(np.intp)
    per_key = np.bincount(keys, minlength=1 << TOP_BITS)
    below_key = np.cumsum(per_key) - per_key
    below, inside = below_key[_KEY_OF], per_key[_KEY_OF]
    inside[_NEGATIVE_ZERO_CELL] += int(np.count_nonzero(finite_edges == 0.0))
    below[_SPECIAL] = 0
    inside[_SPECIAL] = 0
    return below, inside


@lru_cache(maxsize=1024)
def _build(edges_bytes: bytes) -> BinTable:
    finite = np.frombuffer(edges_bytes, dtype=np.float64)[1:-1]
    below, inside = _top_starts(finite)
    top = below.astype(np.int32)
    top[_SPECIAL] = finite.size + 1  # NaN
    top[list(_INFINITE_CELLS)] = MARKED
    blocks = []
    for k, cell in enumerate(np.flatnonzero(inside > CROWDED).tolist()):
        prefixes = (np.uint64(cell) << np.uint64(SUB_BITS)) + np.arange(SUB_SIZE, dtype=np.uint64)
        start, crowd = _starts(finite, prefixes, TOP_BITS + SUB_BITS)
        blocks.append(np.where(crowd > CROWDED, -1 - start, start).astype(np.int32))
        top[cell] = -1 - k
    sub = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int32)
    lead = np.concatenate(([np.nan], finite, np.full(PADDING, np.nan)))
    for array in (lead, top, sub):
        array.setflags(write=False)
    return BinTable(lead=lead, top=top, sub=sub)
