"""Part 8: the same 1M-row table in five numerical shapes and three categorical cardinalities.

Each shape is 20 numerical columns (1% missing) profiled on edges fitted once on a
reference of the same shape; each cardinality is 5 categorical columns. Ours
(``profile_frame``) runs against the plain-numpy line doing the same counting
(searchsorted + bincount, missing, moments) and ``np.histogram``, or pandas
``value_counts`` for categories, repeats interleaved in one process. The machine facts
that explain the figures (CPU, SIMD found by numpy, the cost of a sort and of a sum)
come first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.table import Row, best_of
from benchmarks.throughput import numpy_counting, numpy_histogram
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame

SHAPES = ("normal", "t(2)", "lognormal σ=2", "discrete, 5 values", "90% zero-inflated")
CARDINALITIES = (10, 1_000, 100_000)
N_NUMERICAL = 20
N_CATEGORICAL = 5
MISSING_SHARE = 0.01
VALUES_TARGET = 300e6
NUMPY_TARGET = 10.0
HISTOGRAM_TARGET = 3.0
COMPILE_TARGET = 3.0
THREADS = os.cpu_count() or 1  # what MONITORING_PROFILE_THREADS defaults to


@dataclass(frozen=True)
class BatterySizes:
    """Rows of the production window and of the reference the baseline is fitted on."""

    window: int = 1_000_000
    reference: int = 100_000
    repeats: int = 3


def draw(shape: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` values of one of :data:`SHAPES`, about 1% of them missing."""
    if shape == "normal":
        values = rng.normal(0.0, 1.0, n)
    elif shape == "t(2)":
        values = rng.standard_t(2.0, n)
    elif shape == "lognormal σ=2":
        values = rng.lognormal(0.0, 2.0, n)
    elif shape == "discrete, 5 values":
        values = rng.integers(0, 5, n).astype(np.float64)
    elif shape == "90% zero-inflated":
        values = np.where(rng.random(n) < 0.9, 0.0, rng.exponential(1.0, n))
    else:
        raise ValueError(f"unknown shape {shape!r} (valid: {', '.join(SHAPES)})")
    values[rng.random(n) < MISSING_SHARE] = np.nan
    return values


def numerical_frame(shape: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"x{i:02d}": draw(shape, rng, n) for i in range(N_NUMERICAL)})


def categorical_frame(
    cardinality: int, n: int, seed: int, dictionary: bool = False
) -> pd.DataFrame:
    """Zipf-like categories converted from Arrow: strings, or dictionary-encoded as
    ``ParquetLogSource`` reads them (pandas Categoricals)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, cardinality + 1) ** 0.8
    labels = pa.array([f"c{j}" for j in range(cardinality)], type=pa.string())
    columns = {}
    for i in range(N_CATEGORICAL):
        codes = rng.choice(cardinality, size=n, p=weights / weights.sum())
        codes = np.where(rng.random(n) < MISSING_SHARE, -1, codes)
        taken = pc.take(labels, pa.array(codes, mask=codes < 0))
        columns[f"c{i}"] = taken.dictionary_encode() if dictionary else taken
    return pa.table(columns).to_pandas()


def machine_facts() -> str:
    """CPU, cores, load, versions, the SIMD extensions numpy found, np.sort of 1M and sum of
    20M float64: what a reader needs to tell a slow machine from slow code."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    simd = [name for name in ("SSE42", "AVX", "AVX2", "FMA3", "AVX512F") if features.get(name)]
    x = np.random.default_rng(0).normal(size=1_000_000)
    y = np.random.default_rng(1).normal(size=20_000_000)
    sort_ms = 1e3 * best_of([_time(lambda: np.sort(x)) for _ in range(5)])
    sum_ms = 1e3 * best_of([_time(y.sum) for _ in range(5)])
    try:
        numba = version("numba")
    except PackageNotFoundError:
        numba = "absent"
    return (
        f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"numpy {version('numpy')} (SIMD: {', '.join(simd) or 'none'}), numba {numba}; "
        f"np.sort of 1M float64 {sort_ms:.1f} ms, sum of 20M float64 {sum_ms:.1f} ms"
    )


FIRST_CALL = """
import time
import numpy as np
from monitoring_pipelines.stats.profile import profile_numerical
x = np.arange(10.0)
start = time.perf_counter()
profile_numerical(x, np.array([-np.inf, 5.0, np.inf]))
profile_numerical(x, np.array([-np.inf, 0.0, 5.0, 9.5, np.inf]), (0.0, 5.0))
print(time.perf_counter() - start)
"""


def first_call_seconds() -> tuple[float, float]:
    """Seconds of the first profile calls in a fresh process (numba imported, the kernel
    compiled; a continuous and a discrete column), with an empty on-disk cache and then with
    the cache the first run left."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = os.environ | {"NUMBA_CACHE_DIR": cache_dir}
        runs = [
            subprocess.run(
                [sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True
            )
            for _ in range(2)
        ]
    for run in runs:
        if run.returncode != 0:
            raise RuntimeError(f"first-call timing failed:\n{run.stderr[-2000:]}")
    cold, warm = (float(run.stdout.strip().splitlines()[-1]) for run in runs)
    return cold, warm


def _time(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _race(steps: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best seconds of each step, repeats interleaved so machine noise hits all of them."""
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            seconds[name].append(_time(step))
    return {name: best_of(values) for name, values in seconds.items()}


def _numerical_rows(part: str, best: dict[str, float], values: int) -> list[Row]:
    ours, counting, histogram = best["ours"], best["counting"], best["histogram"]
    speed = values / ours
    vs_numpy, vs_histogram = counting / ours, histogram / ours
    return [
        Row(
            part,
            f"ours: profile_frame, {THREADS} threads",
            f"{ours:.3f} s = {speed / 1e6:.0f} M values/s "
            f"(1 thread: {best['ours, 1 thread']:.3f} s)",
            "",
            f"≥ {VALUES_TARGET / 1e6:.0f} M values/s",
            speed >= VALUES_TARGET,
        ),
        Row(
            part,
            "numpy, same counting (searchsorted+bincount, missing, moments)",
            f"{counting:.3f} s = {values / counting / 1e6:.0f} M values/s",
            f"ours at {vs_numpy:.2f}× its speed",
            f"≥ {NUMPY_TARGET:.0f}×",
            vs_numpy >= NUMPY_TARGET,
        ),
        Row(
            part,
            "numpy floor (np.histogram)",
            f"{histogram:.3f} s = {values / histogram / 1e6:.0f} M values/s",
            f"ours at {vs_histogram:.2f}× its speed",
            f"≥ {HISTOGRAM_TARGET:.0f}×",
            vs_histogram >= HISTOGRAM_TARGET,
        ),
    ]


def _categorical_rows(part: str, best: dict[str, float], values: int) -> list[Row]:
    ours, counting, encoded = best["ours"], best["counting"], best["ours, dictionary"]
    return [
        Row(
            part,
            f"ours: profile_frame, {THREADS} threads, dictionary-encoded (as ParquetLogSource "
            "reads strings)",
            f"{encoded:.3f} s = {values / encoded / 1e6:.1f} M values/s",
            f"{counting / encoded:.2f}× value_counts on strings",
        ),
        Row(
            part,
            f"ours: profile_frame, {THREADS} threads, strings",
            f"{ours:.3f} s = {values / ours / 1e6:.1f} M values/s "
            f"(1 thread: {best['ours, 1 thread']:.3f} s)",
        ),
        Row(
            part,
            "pandas value_counts",
            f"{counting:.3f} s = {values / counting / 1e6:.1f} M values/s",
            f"ours at {counting / ours:.2f}× its speed",
        ),
    ]


def _contest(
    reference: pd.DataFrame,
    window: pd.DataFrame,
    kind: str,
    repeats: int,
    encoded: pd.DataFrame | None = None,
) -> dict:
    baseline = fit_baseline(reference, dict.fromkeys(reference.columns, kind))
    numerical = list(window.columns) if kind == "numerical" else []
    categorical = [] if numerical else list(window.columns)
    edges = {name: baseline.columns[name].edges for name in numerical}
    steps = {
        "ours": lambda: profile_frame(window, baseline, threads=THREADS),
        "ours, 1 thread": lambda: profile_frame(window, baseline),
        "counting": lambda: numpy_counting(window, edges, numerical, categorical),
    }
    if encoded is not None:
        steps["ours, dictionary"] = lambda: profile_frame(encoded, baseline, threads=THREADS)
    if numerical:
        steps["histogram"] = lambda: numpy_histogram(window, edges, numerical, [])
    return _race(steps, repeats)


def battery(sizes: BatterySizes = BatterySizes()) -> list[Row]:
    """Machine facts, then three rows per numerical shape and per categorical cardinality."""
    facts = machine_facts()
    cold, warm = first_call_seconds()
    rows = [
        Row("8 battery", "machine facts", facts),
        Row(
            "8 battery",
            "first profile calls in a fresh process (numba import + compile; continuous, discrete)",
            f"{cold:.2f} s compiling, {warm:.2f} s from the on-disk cache",
            "",
            f"≤ {COMPILE_TARGET:.0f} s compiling",
            cold <= COMPILE_TARGET,
        ),
    ]
    for i, shape in enumerate(SHAPES):
        reference = numerical_frame(shape, sizes.reference, 10 + i)
        window = numerical_frame(shape, sizes.window, 20 + i)
        best = _contest(reference, window, "numerical", sizes.repeats)
        part = f"8 battery: {shape} ({sizes.window:,} × {N_NUMERICAL} numerical)"
        rows += _numerical_rows(part, best, window.size)
    for i, cardinality in enumerate(CARDINALITIES):
        reference = categorical_frame(cardinality, sizes.reference, 30 + i)
        window = categorical_frame(cardinality, sizes.window, 40 + i)
        encoded = categorical_frame(cardinality, sizes.window, 40 + i, dictionary=True)
        best = _contest(reference, window, "categorical", sizes.repeats, encoded)
        part = (
            f"8 battery: {cardinality:,} categories ({sizes.window:,} × {N_CATEGORICAL} "
            "categorical)"
        )
        rows += _categorical_rows(part, best, window.size)
    return rows
