"""Part 1: our profile of one window against plain numpy doing the same counting, in one process.

Both start from the same in-memory frame and the same bin edges (fitted once on the
reference, outside the timing). Repeats are interleaved so machine noise hits both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from benchmarks.data import CATEGORICAL, KINDS, NUMERICAL
from benchmarks.table import Row, best_of
from monitoring_pipelines.stats.dataset import DatasetProfile, fit_baseline, profile_frame

TARGET = 0.5


def numpy_histogram(
    frame: pd.DataFrame,
    edges: dict[str, np.ndarray],
    numerical: Sequence[str] = NUMERICAL,
    categorical: Sequence[str] = CATEGORICAL,
) -> None:
    """The floor: ``np.histogram`` per numerical column, ``value_counts`` per categorical."""
    for name in numerical:
        x = frame[name].to_numpy()
        np.histogram(x[~np.isnan(x)], bins=edges[name][1:-1])
    for name in categorical:
        frame[name].value_counts()


def numpy_counting(
    frame: pd.DataFrame,
    edges: dict[str, np.ndarray],
    numerical: Sequence[str] = NUMERICAL,
    categorical: Sequence[str] = CATEGORICAL,
) -> None:
    """The same counting as our profile: open-ended bins, missing count, moments, min/max."""
    for name in numerical:
        x = frame[name].to_numpy()
        present = x[~np.isnan(x)]
        inner = edges[name][1:-1]
        np.bincount(np.searchsorted(inner, present, side="right"), minlength=inner.size + 1)
        finite = present[np.isfinite(present)]
        mean = finite.mean()
        ((finite - mean) ** 2).sum()
        finite.min(), finite.max()
    for name in categorical:
        frame[name].value_counts(dropna=True)


def _time(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def profile_throughput(
    reference: pd.DataFrame, production: pd.DataFrame, repeats: int = 5
) -> list[Row]:
    """Rows/s and feature-values/s of ours and of two numpy baselines, and the ratios."""
    baseline: DatasetProfile = fit_baseline(reference, KINDS)
    edges = {name: baseline.columns[name].edges for name in NUMERICAL}
    steps = {
        "ours": lambda: profile_frame(production, baseline),
        "histogram": lambda: numpy_histogram(production, edges),
        "counting": lambda: numpy_counting(production, edges),
    }
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            seconds[name].append(_time(step))
    best = {name: best_of(values) for name, values in seconds.items()}
    rows, values = len(production), production.size
    part = f"1 throughput ({rows:,} rows × {production.shape[1]} cols)"

    def speed(name: str) -> str:
        return (
            f"{best[name]:.3f} s = {rows / best[name] / 1e6:.1f} M rows/s, "
            f"{values / best[name] / 1e6:.0f} M values/s"
        )

    vs_counting = best["counting"] / best["ours"]
    return [
        Row(part, "ours: profile_frame", speed("ours")),
        Row(
            part,
            "numpy, same counting (searchsorted+bincount, missing, moments; value_counts)",
            speed("counting"),
            f"ours at {vs_counting:.2f}× its speed",
            f"≥ {TARGET}×",
            vs_counting >= TARGET,
        ),
        Row(
            part,
            "numpy floor (np.histogram; value_counts)",
            speed("histogram"),
            f"ours at {best['histogram'] / best['ours']:.2f}× its speed",
        ),
    ]
