"""Calibration child for the measurement itself: touch LOAD MB, free it, then WORK MB."""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.jobs.common import report, start_work


def main() -> None:
    load_mb, work_mb = (int(arg) for arg in sys.argv[1:3])
    loading = np.ones(load_mb * 2**20 // 8)
    del loading
    marks = start_work()
    working = np.ones(work_mb * 2**20 // 8)
    report(**marks, seconds=float(working[0]))


if __name__ == "__main__":
    main()
