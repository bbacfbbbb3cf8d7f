"""How far binned KS and Wasserstein (computed from stored profiles) are from scipy on raw
data, and how wide their guaranteed error bound (``detail["error_bound"]``) is, per shape.

Prints one row per shape with the worst absolute error and the largest and median bound
over 1k–100k production rows against 100k baseline rows, and whether every raw value lay
within its bound. The default run (40 bins) is the table the README quotes. Run:
``.venv/bin/python -m benchmarks.binned_accuracy [--bins 40] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from scipy import stats

from monitoring_pipelines.stats.drift import score_column
from monitoring_pipelines.stats.profile import fit_numerical

Pair = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def _zero_inflated(rng: np.random.Generator, n: int, zeros: float) -> np.ndarray:
    return np.where(rng.random(n) < zeros, 0.0, rng.exponential(1.0, n))


def _bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.5, rng.normal(-3, 0.5, n), rng.normal(3, 0.5, n))


REFERENCE_ROWS = 100_000
SHAPES: dict[str, Pair] = {
    "normal, shift 0.2 sd": lambda rng, n: (
        rng.normal(0, 1, REFERENCE_ROWS),
        rng.normal(0.2, 1, n),
    ),
    "normal, identical": lambda rng, n: (rng.normal(0, 1, REFERENCE_ROWS), rng.normal(0, 1, n)),
    "normal, scale ×2": lambda rng, n: (rng.normal(0, 1, REFERENCE_ROWS), rng.normal(0, 2, n)),
    "lognormal, shift": lambda rng, n: (
        rng.lognormal(0, 1, REFERENCE_ROWS),
        rng.lognormal(0.1, 1, n),
    ),
    "t(2) ×1.3": lambda rng, n: (
        rng.standard_t(2, REFERENCE_ROWS),
        1.3 * rng.standard_t(2, n),
    ),
    "bimodal, current in the gap": lambda rng, n: (
        _bimodal(rng, REFERENCE_ROWS),
        rng.normal(0, 0.3, n),
    ),
    "zero-inflated 90 % → 50 %": lambda rng, n: (
        _zero_inflated(rng, REFERENCE_ROWS, 0.9),
        _zero_inflated(rng, n, 0.5),
    ),
    "rounded normal, shift": lambda rng, n: (
        np.round(rng.normal(50, 10, REFERENCE_ROWS)),
        np.round(rng.normal(52, 10, n)),
    ),
    "discrete (4 → 5 values)": lambda rng, n: (
        rng.choice([12.0, 24.0, 36.0, 60.0], REFERENCE_ROWS, p=[0.1, 0.2, 0.45, 0.25]),
        rng.choice([12.0, 24.0, 36.0, 48.0, 60.0], n, p=[0.1, 0.2, 0.25, 0.2, 0.25]),
    ),
}
SIZES = (1_000, 10_000, 100_000)


def measure(pair: Pair, n_bins: int, repeats: int, rng: np.random.Generator) -> dict[str, list]:
    """Errors and bounds of binned KS and normalised Wasserstein over sizes and repeats."""
    out: dict[str, list] = {"ks_error": [], "ks_bound": [], "w_error": [], "w_bound": []}
    for n in SIZES:
        for _ in range(repeats):
            reference, current = pair(rng, n)
            baseline = fit_numerical(reference, n_bins)
            window = baseline.like(current)
            ks = score_column("ks", baseline, window)
            w = score_column("wasserstein", baseline, window)
            raw_w = stats.wasserstein_distance(reference, current) / reference.std()
            out["ks_error"].append(abs(stats.ks_2samp(reference, current).statistic - ks.value))
            out["ks_bound"].append(ks.detail["error_bound"])
            out["w_error"].append(abs(raw_w - w.value))
            out["w_bound"].append(w.detail["error_bound"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, nargs="+", default=[40])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for n_bins in args.bins:
        print(f"\n{n_bins} bins, {args.repeats} repeats × {SIZES} production rows")
        print(
            "| shape | KS max error | KS bound max (median) "
            "| W max error | W bound max (median) | within bound |"
        )
        print("|---|---:|---:|---:|---:|:-:|")
        for name, pair in SHAPES.items():
            m = measure(pair, n_bins, args.repeats, rng)
            inside = all(
                e <= b + 1e-9
                for e, b in zip(
                    m["ks_error"] + m["w_error"], m["ks_bound"] + m["w_bound"], strict=True
                )
            )
            print(
                f"| {name} | {max(m['ks_error']):.4f} "
                f"| {max(m['ks_bound']):.4f} ({np.median(m['ks_bound']):.4f}) "
                f"| {max(m['w_error']):.4f} "
                f"| {max(m['w_bound']):.4f} ({np.median(m['w_bound']):.4f}) "
                f"| {'yes' if inside else 'NO'} |"
            )


if __name__ == "__main__":
    main()
