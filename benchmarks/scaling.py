"""Part 7: profile time against the number of rows, and against the number of bins.

In one process, on slices of one in-memory frame, so only the size changes. The
log-log slope of time over rows is 1 for linear growth.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmarks.data import KINDS
from benchmarks.table import Row, best_of
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame

SLOPE_RANGE = (0.9, 1.1)
BINS_TARGET = 1.25


def _profile_seconds(frame: pd.DataFrame, baseline, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        profile_frame(frame, baseline)
        seconds.append(time.perf_counter() - start)
    return best_of(seconds)


def scaling_curve(
    reference: pd.DataFrame,
    production: pd.DataFrame,
    sizes: tuple[int, ...],
    bins: tuple[int, ...],
    bins_rows: int,
    repeats: int,
) -> list[Row]:
    """Time per size (with the log-log slope over the sizes ≥ the second one) and per bin count."""
    baseline = fit_baseline(reference, KINDS)
    part = "7 scaling"
    seconds = {n: _profile_seconds(production.iloc[:n], baseline, repeats) for n in sizes}
    table = [
        Row(part, f"{n:,} rows", f"{s:.4f} s ({s / n * 1e9:.0f} ns/row)")
        for n, s in seconds.items()
    ]
    fitted = sizes[1:] if len(sizes) > 2 else sizes
    slope = float(np.polyfit(np.log(fitted), np.log([seconds[n] for n in fitted]), 1)[0])
    all_slope = float(np.polyfit(np.log(sizes), np.log(list(seconds.values())), 1)[0])
    low, high = SLOPE_RANGE
    table.append(
        Row(
            part,
            f"log-log slope of time over rows, {fitted[0]:,}…{fitted[-1]:,}",
            f"{slope:.3f} ({all_slope:.3f} from {sizes[0]:,}, where fixed costs dominate)",
            f"{seconds[sizes[-1]] / seconds[sizes[-2]]:.1f}× time for "
            f"{sizes[-1] / sizes[-2]:.0f}× rows",
            f"{low}…{high} (linear)",
            low <= slope <= high,
        )
    )
    window = production.iloc[:bins_rows]
    by_bins = {
        b: _profile_seconds(window, fit_baseline(reference, KINDS, n_bins=b), repeats) for b in bins
    }
    table += [Row(part, f"{b} bins, {bins_rows:,} rows", f"{s:.4f} s") for b, s in by_bins.items()]
    spread = max(by_bins.values()) / min(by_bins.values())
    table.append(
        Row(
            part,
            f"bins {min(bins)}…{max(bins)}: slowest / fastest",
            f"{spread:.2f}×",
            target=f"≤ {BINS_TARGET}× (our reading of 'not much')",
            met=spread <= BINS_TARGET,
        )
    )
    return table
