"""Ours, as a peer would be run: fit the baseline on the reference, profile the production rows."""

from __future__ import annotations

import time

from benchmarks.data import KINDS
from benchmarks.jobs.common import arguments, load, report
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame


def main() -> None:
    reference, production, loaded = load(arguments(__doc__))
    start = time.perf_counter()
    baseline = fit_baseline(reference, KINDS)
    fitted = time.perf_counter()
    profile = profile_frame(production, baseline)
    done = time.perf_counter()
    report(
        **loaded,
        seconds=done - start,
        fit_seconds=fitted - start,
        rows=profile.row_count,
    )


if __name__ == "__main__":
    main()
