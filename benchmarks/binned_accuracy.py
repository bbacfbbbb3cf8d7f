"""How close binned KS and Wasserstein (computed from stored profiles) are to scipy on raw data.

Prints, per number of quantile bins, the worst and 95th-percentile absolute error
over normal, lognormal, exponential and bimodal data, mean shifts of 0–0.5 sd and
1k–100k production rows against 100k baseline rows. Run:
``.venv/bin/python -m benchmarks.binned_accuracy [--bins 20 40] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from scipy import stats

from monitoring_pipelines.stats.binning import quantile_edges
from monitoring_pipelines.stats.drift import score_column
from monitoring_pipelines.stats.profile import profile_numerical

Draw = Callable[[np.random.Generator, int, float], np.ndarray]
SHAPES: dict[str, Draw] = {
    "normal": lambda rng, n, s: rng.normal(s, 1, n),
    "lognormal": lambda rng, n, s: rng.lognormal(0, 1, n) + s * 2.16,
    "exponential": lambda rng, n, s: rng.exponential(1, n) + s,
    "bimodal": lambda rng, n, s: (
        np.where(rng.random(n) < 0.3, rng.normal(-2, 0.5, n), rng.normal(1, 1, n)) + s * 1.6
    ),
}
SIZES = (1_000, 10_000, 100_000)
SHIFTS = (0.0, 0.05, 0.1, 0.2, 0.5)


def errors(n_bins: int, repeats: int, rng: np.random.Generator) -> tuple[list[float], list[float]]:
    """Absolute errors of binned KS and normalised Wasserstein over every case."""
    ks_errors, w_errors = [], []
    for draw in SHAPES.values():
        reference = draw(rng, 100_000, 0.0)
        edges = quantile_edges(reference, n_bins)
        baseline = profile_numerical(reference, edges)
        for n in SIZES:
            for shift in SHIFTS:
                for _ in range(repeats):
                    current = draw(rng, n, shift)
                    window = profile_numerical(current, edges)
                    raw_ks = stats.ks_2samp(reference, current).statistic
                    ks_errors.append(abs(score_column("ks", baseline, window).value - raw_ks))
                    raw_w = stats.wasserstein_distance(reference, current) / reference.std()
                    binned_w = score_column("wasserstein", baseline, window).value
                    w_errors.append(abs(binned_w - raw_w))
    return ks_errors, w_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, nargs="+", default=[10, 20, 30, 40, 50])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| bins | KS max | KS p95 | Wasserstein max | Wasserstein p95 | cases |")
    print("|-----:|-------:|-------:|----------------:|----------------:|------:|")
    for n_bins in args.bins:
        ks_errors, w_errors = errors(n_bins, args.repeats, rng)
        print(
            f"| {n_bins} | {max(ks_errors):.4f} | {np.quantile(ks_errors, 0.95):.4f} "
            f"| {max(w_errors):.4f} | {np.quantile(w_errors, 0.95):.4f} | {len(ks_errors)} |"
        )


if __name__ == "__main__":
    main()
