"""False alarms and power of the default drift metrics with thresholds calibrated to the
window's size (``stats.calibration``), against the fixed default thresholds.

A 25-column model (7 normal, 6 Student t(2), 6 zero-inflated, 6 Zipf 60-category columns),
100,000 reference rows; fresh production windows of each size, scored with the default
metrics and Benjamini–Hochberg correction. False alarm: a window of identical distributions
with at least one drifted column. Power: the share of windows where the changed column is
flagged, for a 0.2 sd mean shift in one normal column and a new category taking 1 % / 5 %
of one Zipf column. Fixed seed. Run:
``.venv/bin/python -m benchmarks.calibration [--windows 200] [--sizes 500 1000 10000 100000]``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.calibration import Calibration, calibrate
from monitoring_pipelines.stats.dataset import DatasetProfile, fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import Kind
from monitoring_pipelines.stats.scoring import default_metrics, drifted_columns, score_window

REFERENCE_ROWS = 100_000
ZIPF = 1.0 / np.arange(1, 61) ** 1.1
ZIPF_LABELS = np.array([f"z{i}" for i in range(60)], dtype=object)
SHAPES: dict[str, int] = {"normal": 7, "t2": 6, "zero_inflated": 6, "zipf": 6}
Change = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


def column(shape: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` values of one shape of the battery."""
    if shape == "normal":
        return rng.normal(0.0, 1.0, n)
    if shape == "t2":
        return rng.standard_t(2, n)
    if shape == "zero_inflated":
        return np.where(rng.random(n) < 0.7, 0.0, rng.exponential(1.0, n))
    return ZIPF_LABELS[rng.choice(60, n, p=ZIPF / ZIPF.sum())]


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` rows of the 25-column model, identically distributed at every call."""
    return pd.DataFrame(
        {
            f"{shape}_{i}": column(shape, rng, n)
            for shape, count in SHAPES.items()
            for i in range(count)
        }
    )


def kinds() -> dict[str, Kind]:
    return {
        f"{shape}_{i}": Kind.CATEGORICAL if shape == "zipf" else Kind.NUMERICAL
        for shape, count in SHAPES.items()
        for i in range(count)
    }


def shifted(window: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return window.assign(normal_0=window["normal_0"] + 0.2)


def new_category(share: float) -> Change:
    def change(window: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        values = window["zipf_0"].to_numpy().copy()
        values[rng.random(len(values)) < share] = "brand_new"
        return window.assign(zipf_0=values)

    return change


def fitted(rng: np.random.Generator) -> tuple[DatasetProfile, Calibration]:
    """The baseline of the 25-column model and its calibration with the default metrics."""
    reference = frame(rng, REFERENCE_ROWS)
    baseline = fit_baseline(reference, kinds())
    metrics = {name: default_metrics(kind) for name, kind in kinds().items()}
    return baseline, calibrate(reference, baseline, metrics, rng=rng)


def rates(
    baseline: DatasetProfile,
    calibration: Calibration | None,
    n: int,
    windows: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """False-alarm rate and the power for each change, over ``windows`` windows of ``n`` rows."""
    changes: dict[str, tuple[Change | None, str | None]] = {
        "false alarm": (None, None),
        "0.2 sd shift": (shifted, "normal_0"),
        "1 % new category": (new_category(0.01), "zipf_0"),
        "5 % new category": (new_category(0.05), "zipf_0"),
    }
    hits = dict.fromkeys(changes, 0)
    for _ in range(windows):
        clean = frame(rng, n)
        for name, (change, target) in changes.items():
            window = clean if change is None else change(clean, rng)
            scores = score_window(
                baseline, profile_frame(window, baseline), calibration=calibration
            )
            flagged = drifted_columns(scores)
            hits[name] += bool(flagged) if target is None else target in flagged
    return {name: count / windows for name, count in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1_000, 10_000, 100_000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    baseline, calibration = fitted(rng)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.windows} windows"
    )
    print(
        "| rows | thresholds | false alarms (≥ 1 of 25 columns) | 0.2 sd shift "
        "| 1 % new category | 5 % new category |"
    )
    print("|---:|---|---:|---:|---:|---:|")
    for n in args.sizes:
        windows = args.windows if n <= 10_000 else max(args.windows // 4, 1)
        for label, curves in (("calibrated", calibration), ("fixed", None)):
            r = rates(baseline, curves, n, windows, rng)
            print(
                f"| {n:,} | {label} | {r['false alarm']:.1%} | {r['0.2 sd shift']:.1%} "
                f"| {r['1 % new category']:.1%} | {r['5 % new category']:.1%} |"
            )


if __name__ == "__main__":
    main()
