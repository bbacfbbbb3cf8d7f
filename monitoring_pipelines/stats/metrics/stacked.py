"""The default drift metrics over stacked profiles: one array operation per metric for many
(column, window) pairs at once, equal to the one-pair functions of ``stats.metrics``.

Each function takes the pairs of one metric (baseline and window column profiles) and that
metric's keyword parameters, and returns one :class:`Measurement` per pair, in order.
Rows are stacked by their number of cells, so every row's sums and cumulative sums run over
the same cells in the same order as the one-pair function's (numpy reduces each row of a
contiguous stack as it reduces a vector). Cells come from :class:`Cells`, which aligns each
pair once for all its metrics; a histogram on shared edges is its own cells.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import coarsen_rows, proportions
from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.metrics.psi import (
    DEFAULT_EPSILON,
    DEFAULT_MAX_BINS,
    psi,
    psi_cells,
    psi_rows,
)
from monitoring_pipelines.stats.metrics.stacked_cells import (
    Cells,
    Pair,
    by_width,
    histograms,
    stacked_counts,
)
from monitoring_pipelines.stats.metrics.stacked_wasserstein import stacked_wasserstein
from monitoring_pipelines.stats.profile import NumericalProfile


def _cell_stacks(
    pairs: Sequence[Pair], cells: Cells
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """Every pair's cells, stacked by width: histograms straight, the rest aligned."""
    direct = histograms(pairs)
    yield from stacked_counts(pairs, direct)
    skip = set(direct)
    rest = [(i, *cells.of(*pairs[i])) for i in range(len(pairs)) if i not in skip]
    yield from by_width(rest)


def _values(pairs: Sequence[Pair], stacks, rows: Callable) -> list[Measurement]:
    out: list[Measurement | None] = [None] * len(pairs)
    for indices, ref, cur in stacks:
        for i, value in zip(indices, rows(ref, cur).tolist(), strict=True):
            out[i] = Measurement(value=value)
    return out


def stacked_psi(
    pairs: Sequence[Pair],
    cells: Cells,
    *,
    epsilon: float = DEFAULT_EPSILON,
    max_bins: int | None = DEFAULT_MAX_BINS,
) -> list[Measurement]:
    """:func:`~monitoring_pipelines.stats.metrics.psi.psi` of every pair."""
    if not epsilon > 0 or (max_bins is not None and max_bins < 1):
        return [psi(r, c, epsilon=epsilon, max_bins=max_bins) for r, c in pairs]
    direct = histograms(pairs)

    def stacks():
        for indices, ref, cur in stacked_counts(pairs, direct):
            yield indices, *(coarsen_rows(ref, cur, max_bins) if max_bins else (ref, cur))
        skip = set(direct)
        rest = [i for i in range(len(pairs)) if i not in skip]
        yield from by_width([(i, *_psi_cells(pairs[i], cells, max_bins)) for i in rest])

    return _values(pairs, stacks(), lambda r, c: psi_rows(proportions(r), proportions(c), epsilon))


def _psi_cells(pair: Pair, cells: Cells, max_bins: int | None) -> tuple[np.ndarray, np.ndarray]:
    if max_bins is None or not isinstance(pair[0], NumericalProfile):
        return cells.of(*pair)
    return psi_cells(*pair, max_bins)


def stacked_tvd(pairs: Sequence[Pair], cells: Cells) -> list[Measurement]:
    """:func:`~monitoring_pipelines.stats.metrics.tvd.tvd` of every pair."""

    def rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return np.minimum(0.5 * np.abs(proportions(ref) - proportions(cur)).sum(axis=1), 1.0)

    return _values(pairs, _cell_stacks(pairs, cells), rows)


def stacked_jensen_shannon(pairs: Sequence[Pair], cells: Cells) -> list[Measurement]:
    """:func:`~monitoring_pipelines.stats.metrics.jensen_shannon.jensen_shannon` of every pair
    (cells with p = 0 add exact zeros instead of being left out)."""

    def rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        p, q = proportions(ref), proportions(cur)
        m = 0.5 * (p + q)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
            kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
        return np.sqrt(np.clip(0.5 * (kl_p + kl_q), 0.0, 1.0))

    return _values(pairs, _cell_stacks(pairs, cells), rows)


def stacked_z_score(pairs: Sequence[Pair], cells: Cells) -> list[Measurement]:
    """:func:`~monitoring_pipelines.stats.metrics.z_score.z_score` of every pair."""
    ref_n = np.array([r.n_finite for r, _ in pairs])
    cur_n = np.array([c.n_finite for _, c in pairs])
    std = np.array([r.std for r, _ in pairs])
    shift = np.array([c.mean for _, c in pairs]) - np.array([r.mean for r, _ in pairs])
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.abs(shift) / std
    out = []
    for i, (v, s) in enumerate(zip(value.tolist(), shift.tolist(), strict=True)):
        if ref_n[i] == 0 or cur_n[i] == 0:
            out.append(undefined("no finite values to take a mean from"))
        elif not std[i] > 0:
            out.append(undefined("baseline standard deviation is 0 (constant baseline)"))
        else:
            out.append(Measurement(value=v, detail={"mean_shift": s}))
    return out


def stacked_missing_rate(pairs: Sequence[Pair], cells: Cells) -> list[Measurement]:
    """:func:`~monitoring_pipelines.stats.metrics.missing_rate.missing_rate` of every pair."""
    rows = np.array([[r.rows, c.rows] for r, c in pairs], dtype=np.float64).reshape(-1, 2)
    counts = np.array([[r.count, c.count] for r, c in pairs], dtype=np.float64).reshape(-1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(rows > 0, (rows - counts) / rows, 0.0)
    change = np.abs(share[:, 1] - share[:, 0])
    return [
        Measurement(value=v, detail={"missing_rate_reference": ref, "missing_rate_current": cur})
        for v, (ref, cur) in zip(change.tolist(), share.tolist(), strict=True)
    ]


STACKED: dict[str, Callable[..., list[Measurement]]] = {
    "psi": stacked_psi,
    "tvd": stacked_tvd,
    "jensen_shannon": stacked_jensen_shannon,
    "z_score": stacked_z_score,
    "missing_rate": stacked_missing_rate,
    "wasserstein": stacked_wasserstein,
}
