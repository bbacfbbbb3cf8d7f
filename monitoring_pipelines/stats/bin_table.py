"""A two-level lookup table that finds the bin of a float in O(1) on any shape of edges.

A float's bits, read as an integer with negative values mirrored (``ordered``), sort like
the floats themselves (-0.0 and 0.0 are one key). The table's first level is indexed by
the top 16 bits of that key (sign, exponent, 4 bits of mantissa: cells 1/16 of an octave
wide, so heavy tails and values near zero get cells on their own scale, like a table on
the quantile scale); it holds the number of edges whose key is below the cell, which is
the bin of any value in the cell unless edges fall inside it. A cell holding more than
:data:`CROWDED` edges gets a second level on the next 8 bits. The few edges left inside
the final cell are passed by a short scan, so values on an edge land in the bin that
starts there, as :func:`monitoring_pipelines.stats.binning.bin_index` puts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TOP_BITS = 16
SUB_BITS = 8
TOP_SHIFT = 64 - TOP_BITS
SUB_SHIFT = TOP_SHIFT - SUB_BITS
TOP_OFFSET = 1 << (TOP_BITS - 1)
SUB_SIZE = 1 << SUB_BITS
CROWDED = 2


@dataclass(frozen=True, eq=False)
class BinTable:
    """``inner``: the finite edges then +inf (the scan's sentinel); ``top``: the first level,
    a bin start, or ``-1 - k`` for the ``k``-th block of :data:`SUB_SIZE` entries in ``sub``."""

    inner: np.ndarray
    top: np.ndarray
    sub: np.ndarray


def ordered_keys(values: np.ndarray) -> np.ndarray:
    """Integer keys of non-NaN float64 values that sort as the values do (-0.0 is 0.0)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    sign = bits >> 63
    return (bits ^ (sign & np.int64(0x7FFF_FFFF_FFFF_FFFF))) - sign


def table_for(edges: np.ndarray) -> BinTable:
    """The (cached) table of validated ``edges`` (``-inf, e1, ..., em, +inf``)."""
    return _build(edges.tobytes())


@lru_cache(maxsize=1024)
def _build(edges_bytes: bytes) -> BinTable:
    edges = np.frombuffer(edges_bytes, dtype=np.float64)
    finite = edges[1:-1]
    keys = ordered_keys(finite)
    top_keys = keys >> TOP_SHIFT
    cells = np.arange(-TOP_OFFSET, TOP_OFFSET, dtype=np.int64)
    top = np.searchsorted(top_keys, cells, side="left").astype(np.int32)
    crowded_cells, inside = np.unique(top_keys, return_counts=True)
    crowded_cells = crowded_cells[inside > CROWDED]
    sub_keys = keys >> SUB_SHIFT
    blocks = []
    for k, cell in enumerate(crowded_cells.tolist()):
        first = (cell << SUB_BITS) + np.arange(SUB_SIZE, dtype=np.int64)
        blocks.append(np.searchsorted(sub_keys, first, side="left").astype(np.int32))
        top[cell + TOP_OFFSET] = -1 - k
    sub = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int32)
    inner = np.append(finite, np.inf)
    for array in (inner, top, sub):
        array.setflags(write=False)
    return BinTable(inner=inner, top=top, sub=sub)
