"""Part 5's single-run month without the checks, alone: wall and CPU seconds of one run.

The same run as part 5's "single-run backfill of 720 hours without the checks" (the job
of ``hourly_aggregates`` and ``drift_scores`` ``.without_checks()``, one
``execute_in_process`` run with range tags, a temporary SQLite Dagster home), without the
slow run-per-hour rows, so a change to it can be timed in minutes. CPU seconds are this
process's (the run is one process); on a shared machine they move less than the wall time.

Usage: ``.venv/bin/python -m benchmarks.month_without_checks [--hours 720]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.backfill import QUIET, single_run
from benchmarks.backfill_data import DEPLOYMENT, hours, write_config, write_deployment
from benchmarks.backfill_jobs import with_unchecked_job
from benchmarks.dagster_home import temporary_dagster_home
from benchmarks.data import DATA_DIR
from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB

DAYS, ROWS_PER_HOUR, REFERENCE_ROWS = 30, 10_000, 100_000  # part 5's month (benchmarks.run)


def month_without_checks(n_hours: int, data_dir: Path = DATA_DIR) -> tuple[float, float]:
    """(wall, CPU) seconds of one no-checks run over the first ``n_hours`` of the month."""
    folder = write_deployment(DAYS, ROWS_PER_HOUR, REFERENCE_ROWS, data_dir)
    config_path = write_config(folder, quality_checks=True)
    span = hours(DAYS)[:n_hours]
    with temporary_dagster_home() as home:
        defs = with_unchecked_job(build_definitions(load_config(config_path), str(config_path)))
        baseline = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
            instance=home.instance, run_config=QUIET, partition_key=DEPLOYMENT
        )
        if not baseline.success:
            raise RuntimeError("the baseline run failed")
        cpu = time.process_time()
        wall = single_run(defs, home.instance, span, checks=False)
        return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24 * DAYS, help="hours of the month to run")
    args = parser.parse_args()
    if not 1 <= args.hours <= 24 * DAYS:
        parser.error(f"--hours must be between 1 and {24 * DAYS}, got {args.hours}")
    before = os.getloadavg()
    wall, cpu = month_without_checks(args.hours)
    after = os.getloadavg()
    print(
        f"{args.hours} hours without the checks: {wall:.1f} s wall ({wall / args.hours * 1000:.0f} "
        f"ms/hour), {cpu:.1f} s CPU; load average {before[0]:.1f} before, {after[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
