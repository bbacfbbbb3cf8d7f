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


def _best_seconds(frames: dict, baselines: dict, repeats: int) -> dict:
    """Best time of profiling each frame on its baseline, repeats interleaved across keys."""
    seconds: dict = {key: [] for key in frames}
    for _ in range(repeats):
        for key, frame in frames.items():
            start = time.perf_counter()
            profile_frame(frame, baselines[key])
            seconds[key].append(time.perf_counter() - start)
    return {key: best_of(values) for key, values in seconds.items()}


def scaling_curve(
    reference: pd.DataFrame,
    production: pd.DataFrame,
    sizes: tuple[int, ...],
    bins: tuple[int, ...],
    bins_rows: int,
    repeats: int,
) -> list[Row]:
    """Time per size, the log-log slope between the two largest sizes, and time per bin count."""
    baseline = fit_baseline(reference, KINDS)
    part = "7 scaling"
    seconds = _best_seconds(
        {n: production.iloc[:n] for n in sizes}, dict.fromkeys(sizes, baseline), repeats
    )
    table = [
        Row(part, f"{n:,} rows", f"{s:.4f} s ({s / n * 1e9:.0f} ns/row)")
        for n, s in seconds.items()
    ]
    small, large = sizes[-2], sizes[-1]
    slope = float(np.log(seconds[large] / seconds[small]) / np.log(large / small))
    all_slope = float(np.polyfit(np.log(sizes), np.log(list(seconds.values())), 1)[0])
    low, high = SLOPE_RANGE
    table.append(
        Row(
            part,
            f"log-log slope of time over rows, {small:,} → {large:,}",
            f"{slope:.3f} ({all_slope:.3f} fitted from {sizes[0]:,}, where fixed costs dominate)",
            f"{seconds[large] / seconds[small]:.1f}× time for {large / small:.0f}× rows",
            f"{low}…{high} (linear)",
            low <= slope <= high,
        )
    )
    window = production.iloc[:bins_rows]
    by_bins = _best_seconds(
        dict.fromkeys(bins, window),
        {b: fit_baseline(reference, KINDS, n_bins=b) for b in bins},
        repeats,
    )
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
