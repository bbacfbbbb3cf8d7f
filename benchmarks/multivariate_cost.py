"""The hourly cost of multivariate drift: each row's reconstruction error and its profile,
against profiling the same hour's 25 columns, in the same process.

Data: the benchmark's 25 columns (``data.py``: 20 numerical with 1 % missing, 5 categorical
of 3 to 1,000 categories, read from Arrow as a Parquet read gives them), a 100k-row
reference and a 1M-row hour. Not timed: ``fit_baseline`` and ``fit_reconstruction``.
Timed, repeats interleaved, best kept: ``profile_frame`` (one thread, and the pipeline's
default of every core) and the multivariate step (encode, standardize, project in blocks of
65,536 rows, profile the errors on the reference errors' edges).

    .venv/bin/python -m benchmarks.multivariate_cost [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from benchmarks.battery import machine_facts
from benchmarks.data import KINDS, TIMESTAMP, make_table
from benchmarks.table import Row, best_of, markdown
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.multivariate import fit_reconstruction

REFERENCE_ROWS = 100_000
TARGET_RATIO = 1.5  # the multivariate step costs about what profiling the 25 columns does


def _seconds(step: Callable[[], object]) -> float:
    began = time.perf_counter()
    step()
    return time.perf_counter() - began


def multivariate_cost(
    rows: int = 1_000_000, repeats: int = 3, reference_rows: int = REFERENCE_ROWS
) -> list[Row]:
    """Machine facts, the seconds of each step, and the multivariate step's ratio."""
    reference = make_table(reference_rows, 1).drop_columns([TIMESTAMP]).to_pandas()
    window = make_table(rows, 2).drop_columns([TIMESTAMP]).to_pandas()
    baseline = fit_baseline(reference, KINDS)
    began = time.perf_counter()
    model, errors = fit_reconstruction(reference, KINDS)
    fit_seconds = time.perf_counter() - began
    threads = os.cpu_count() or 1
    steps = {
        "profile, 1 thread": lambda: profile_frame(window, baseline),
        f"profile, {threads} threads": lambda: profile_frame(window, baseline, threads=threads),
        "multivariate": lambda: errors.like(model.errors(window)),
    }
    timings: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            timings[name].append(_seconds(step))
    best = {name: best_of(seconds) for name, seconds in timings.items()}
    part = f"multivariate ({rows:,} × {len(KINDS)} columns)"
    ratio = best["multivariate"] / best["profile, 1 thread"]
    k, d = model.components.shape
    return [
        Row(part, "machine facts", machine_facts()),
        Row(
            part,
            f"fit on {reference_rows:,} reference rows ({k} of {d} components, "
            f"{model.explained:.0%} of the variance)",
            f"{fit_seconds:.2f} s",
        ),
        *(Row(part, name, f"{seconds:.3f} s") for name, seconds in best.items()),
        Row(
            part,
            "multivariate step / profiling (1 thread)",
            f"{best['multivariate']:.3f} s",
            f"{ratio:.2f}×",
            f"≤ {TARGET_RATIO}×",
            ratio <= TARGET_RATIO,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(markdown(multivariate_cost(args.rows, args.repeats)))


if __name__ == "__main__":
    main()
