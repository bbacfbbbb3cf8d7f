"""The compiled loops of the profiling kernels; importing this module imports numba.

:mod:`~monitoring_pipelines.stats.kernel` and :mod:`~monitoring_pipelines.stats.segment_kernel`
call these loops through their ``compiled()``, which falls back to numpy when numba cannot
load. A cold start is mostly numba's own typing and lowering, not LLVM, so the loops are few
and plain: one profiling loop serves continuous and discrete baselines alike (a discrete
one is counted on split cells, see :func:`~monitoring_pipelines.stats.kernel.count`), the
float's bits come from a register move, not an array view, and the rare second-level lookup
is one small function the loops share (LLVM inlines it back). The common lookup is written
out in each loop instead: a helper's array arguments are bound anew on each call, two
reference-count updates per array per value that numba's pruning leaves in, even when numba
inlines it (``inline="always"``: the profiling loop 3.5× slower; a plain call 6.4×). The pass
that counts a discrete block's new values (:func:`new_values`) compiles on its first use.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from monitoring_pipelines.stats.bin_table import (
    PADDING,
    SUB_MASK,
    SUB_SHIFT,
    SUB_STRIDE,
    TOP_SHIFT,
)

SUB_BLOCK = 2048
LANES = 4  # interleaved histograms: a repeated bin does not wait on its last increment
# unsigned, as the table's constants: numba keeps index arithmetic free of wraparound
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_LANES = np.uint64(LANES)
_LANE_BITS = np.uint64(LANES.bit_length() - 1)
_SIGN_SHIFT = np.int64(63)
_MAGNITUDE = np.int64(0x7FFF_FFFF_FFFF_FFFF)

# no GIL (columns run in threads), cached on disk, numpy's float errors (no exceptions)
_OPTIONS = {"nogil": True, "cache": True, "error_model": "numpy"}
jit = numba.njit(**_OPTIONS)
_READ_FLOATS = numba.types.Array(numba.float64, 1, "C", readonly=True)
_READ_INTS = numba.types.Array(numba.int32, 1, "C", readonly=True)


@intrinsic
def float_bits(typingctx, v):
    """The bits of float64 ``v`` as a uint64: a register move (no array view to type and
    lower, no second load of the value)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def bits_float(typingctx, b):
    """The float64 whose bits are int64 ``b``: the inverse register move."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(
    numba.int64(numba.int32, numba.float64, numba.uint64, _READ_FLOATS, _READ_INTS), **_OPTIONS
)
def deeper(t, v, b, lead, sub):
    """The bin start of ``v`` (bits ``b``) in a marked cell (``top`` gave ``t < 0``): ±inf and
    the NaNs that share their cells go to their counting cells; a finite value takes the
    second level, and the scan of edges a few ulps apart (rare: arrays passed to a call cost
    two reference-count updates each, so the common path stays in the loop)."""
    if v - v != 0.0:  # NaN or ±inf: the cells after the m + 1 bins
        m = lead.size - 1 - PADDING
        return m + 1 if v != v else (m + 2 if v > 0.0 else m + 3)
    t = sub[np.uint64(-1 - t) * SUB_STRIDE + ((b >> SUB_SHIFT) & SUB_MASK)]
    if t < 0:
        t = -1 - t
        while lead[t + 1] <= v:
            t += 1
    return t


def count_column(x, lead, top, sub, counts):
    """Count column ``x`` into ``counts`` ((bins + 3 counting cells) × LANES, flat: see
    :mod:`~monitoring_pipelines.stats.bin_table`). Returns (n, mean, M2, min, max, shift) of
    the finite values, the mean that of ``x - shift`` (min and max are ``shift`` when none)."""
    total = 0
    mean = 0.0
    m2 = 0.0
    shift = 0.0  # moments of x - shift: sums of small deviations, not of 1e9 + noise
    for v in x:
        if v - v == 0.0:
            shift = v
            break
    # the extremes as order keys: a float's bits as an int64, a negative one's magnitude bits
    # inverted, order as the floats do (and the map is its own inverse); integer minima run
    # in SIMD lanes, where the NaN rules of a float min keep LLVM from vectorizing the loop
    low = np.int64(float_bits(shift))  # a value of x: the extremes start from it
    low = high = low ^ ((low >> _SIGN_SHIFT) & _MAGNITUDE)
    special = counts[counts.size - 3 * LANES :]  # the counting cells of NaN, +inf and -inf
    for start in range(0, x.size, SUB_BLOCK):
        block = x[start : start + SUB_BLOCK]  # a view: its indices need no wraparound
        not_finite = special.sum()
        size = np.uint64(block.size)
        i = np.uint64(0)
        # every value, NaN and ±inf too (no test to mispredict), one per lane: LLVM unrolls
        # the loop over the lanes, so the lane is a constant and the loop's own work is shared
        while i + _LANES <= size:
            for lane in range(LANES):
                v = block[i + np.uint64(lane)]
                b = float_bits(v)
                t = top[b >> TOP_SHIFT]
                if t < 0:
                    t = deeper(t, v, b, lead, sub)
                at = np.uint64(t)
                # at most CROWDED edges left in the cell: pass them with no branch to mispredict
                at += np.uint64(lead[at + _ONE] <= v) + np.uint64(lead[at + _TWO] <= v)
                counts[(at << _LANE_BITS) | np.uint64(lane)] += 1
            i += _LANES
        while i < size:  # the last block's last values, fewer than LANES: lane 0
            v = block[i]
            b = float_bits(v)
            t = top[b >> TOP_SHIFT]
            if t < 0:
                t = deeper(t, v, b, lead, sub)
            at = np.uint64(t)
            at += np.uint64(lead[at + _ONE] <= v) + np.uint64(lead[at + _TWO] <= v)
            counts[at << _LANE_BITS] += 1
            i += _ONE
        # no histogram in this loop: it runs in SIMD lanes
        pivot = mean  # deviations from the mean so far stay small
        block_sum = 0.0
        block_squares = 0.0
        # the block's finite values: the rest went to the counting cells (one vector add and
        # mask conversion a value fewer in the loop below, 3-6 % of the two loops' time)
        k = block.size - (special.sum() - not_finite)
        for i in range(block.size):
            v = block[i]
            finite = v - v == 0.0
            d = (v - shift) - pivot
            d = d if finite else 0.0
            block_sum += d
            block_squares += d * d
            key = np.int64(float_bits(v if finite else shift))
            key ^= (key >> _SIGN_SHIFT) & _MAGNITUDE
            low = min(low, key)
            high = max(high, key)
        if k:  # Chan's combination with the block's k values
            block_mean = pivot + block_sum / k
            block_m2 = max(block_squares - block_sum * block_sum / k, 0.0)
            delta = block_mean - mean
            mean += delta * k / (total + k)
            m2 += block_m2 + delta * delta * total * k / (total + k)
            total += k
    low ^= (low >> _SIGN_SHIFT) & _MAGNITUDE
    high ^= (high >> _SIGN_SHIFT) & _MAGNITUDE
    return total, mean, m2, bits_float(low), bits_float(high), shift


EMPTY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)  # a NaN's bits: no finite value's key
_GOLDEN = np.uint64(0x9E37_79B9_7F4A_7C15)  # Fibonacci hashing: the key's high bits, mixed


@jit
def new_values(x, lead, top, sub, valued, keys, tallies):
    """Count the finite values of ``x`` that are no baseline value (their cell is not
    ``valued``) by their bits (-0.0 as 0.0) in the open-addressing table ``keys``/``tallies``
    (a power of two of slots, :data:`EMPTY` when free). Returns the distinct values counted,
    or -1 when they would fill half the table (then numpy counts them)."""
    shift = np.uint64(64)
    size = keys.size
    while size > 1:  # 64 less log2 of the slots: the key's product keeps its top bits
        size >>= 1
        shift -= _ONE
    mask = np.uint64(keys.size - 1)
    room = keys.size // 2
    distinct = 0
    for v in x:
        if v - v != 0.0:  # NaN or ±inf
            continue
        b = float_bits(v)
        t = top[b >> TOP_SHIFT]
        if t < 0:
            t = deeper(t, v, b, lead, sub)
        at = np.uint64(t)
        at += np.uint64(lead[at + _ONE] <= v) + np.uint64(lead[at + _TWO] <= v)
        if valued[at]:
            continue
        key = float_bits(v + 0.0)
        slot = (key * _GOLDEN) >> shift
        while keys[slot] != key:
            if keys[slot] == EMPTY:
                if distinct == room:
                    return -1
                keys[slot] = key
                distinct += 1
                break
            slot = (slot + _ONE) & mask
        tallies[slot] += 1
    return distinct


def _segmented_counter(discrete: bool):
    """The loop of :mod:`~monitoring_pipelines.stats.segment_kernel` for one baseline kind."""

    def count(x, codes, lead, top, sub, acc):
        """Add column ``x`` (segment of row i: ``codes[i]``) into ``acc``'s arrays."""
        counts, hits = acc[0], acc[1]
        missing, pos_inf, neg_inf, n = acc[2], acc[3], acc[4], acc[5]
        shift, s1, s2, low, high = acc[6], acc[7], acc[8], acc[9], acc[10]
        last = lead.size - 1 - PADDING  # the last bin
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
            b = float_bits(v)  # one load of the value, not a second one of its bits
            t = top[b >> TOP_SHIFT]
            if t < 0:
                t = deeper(t, v, b, lead, sub)
            at = np.uint64(t)
            # at most CROWDED edges left in the cell: pass them with no branch to mispredict
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


# Reassociation (and fused multiply-adds, no other fast-math: NaN tests keep their meaning)
# lets the sums of a block run in SIMD lanes; it moves roundings only by a constant offset of
# the deviations, which the M2 of a block does not see.
continuous = numba.njit(fastmath={"reassoc", "contract"}, **_OPTIONS)(count_column)
segment_continuous = jit(_segmented_counter(discrete=False))
segment_discrete = jit(_segmented_counter(discrete=True))
