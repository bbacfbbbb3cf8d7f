"""Ours, as a peer would be run: fit the baseline on the reference, profile the production rows,
columns on one thread per core (``threads``, as the pipeline's ``MONITORING_PROFILE_THREADS``
defaults to)."""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa

from benchmarks.data import KINDS
from benchmarks.jobs.common import arguments, load, report
from monitoring_pipelines.stats import kernel
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import profile_numerical


def load_kernels() -> float:
    """Import numba and load the compiled kernels (both numerical ones and the short-string
    count) from the on-disk cache, as an import: a
    once-per-process cost (part 8 reports it) kept out of the compute time, as the peers'
    imports are. Returns its seconds."""
    start = time.perf_counter()
    x = np.arange(10.0)
    profile_numerical(x, np.array([-np.inf, 5.0, np.inf]))
    profile_numerical(x, np.array([-np.inf, 0.0, 5.0, 9.5, np.inf]), (0.0, 5.0))
    kernel.count_short_strings([pa.array(["a"])])
    return time.perf_counter() - start


def main() -> None:
    kernel_seconds = load_kernels()
    reference, production, loaded = load(arguments(__doc__))
    threads = os.cpu_count() or 1
    start = time.perf_counter()
    baseline = fit_baseline(reference, KINDS, threads=threads)
    fitted = time.perf_counter()
    profile = profile_frame(production, baseline, threads=threads)
    done = time.perf_counter()
    report(
        **loaded,
        seconds=done - start,
        fit_seconds=fitted - start,
        rows=profile.row_count,
        kernel_load_seconds=kernel_seconds,
        threads=threads,
    )


if __name__ == "__main__":
    main()
