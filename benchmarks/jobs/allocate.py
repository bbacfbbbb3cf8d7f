"""Calibration child for the measurement itself: allocate and touch N MB, then report."""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.jobs.common import report, rss_mb


def main() -> None:
    before = rss_mb()
    block = np.ones(int(sys.argv[1]) * 2**20 // 8)
    report(rss_loaded_mb=before, seconds=float(block[0]))


if __name__ == "__main__":
    main()
