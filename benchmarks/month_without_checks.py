"""Part 5's single-run month without the checks, alone: wall and CPU seconds of one run.

The same run as part 5's "single-run backfill of 720 hours without the checks" (the job
of ``hourly_aggregates`` and ``drift_scores`` ``.without_checks()``, one
``execute_in_process`` run with range tags, a temporary SQLite Dagster home), without the
slow run-per-hour rows, so a change to it can be timed in minutes. CPU seconds are this
process's (the run is one process); on a shared machine they move less than the wall time.
The home is the development instance (the repository's ``dagster.yaml``, as ``make demo``
uses it); ``--stock-storage`` runs it on Dagster's own SQLite storage instead, which writes
every event alone.

Usage: ``.venv/bin/python -m benchmarks.month_without_checks [--hours 720] [--stock-storage]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.backfill import month_home, single_run
from benchmarks.backfill_data import hours
from benchmarks.data import DATA_DIR

DAYS, ROWS_PER_HOUR, REFERENCE_ROWS = 30, 10_000, 100_000  # part 5's month (benchmarks.run)


def month_without_checks(
    n_hours: int, data_dir: Path = DATA_DIR, stock_storage: bool = False
) -> tuple[float, float]:
    """(wall, CPU) seconds of one no-checks run over the first ``n_hours`` of the month."""
    span = hours(DAYS)[:n_hours]
    month = month_home(DAYS, ROWS_PER_HOUR, REFERENCE_ROWS, data_dir, stock_storage)
    with month as (_, defs, home):
        cpu = time.process_time()
        wall = single_run(defs, home.instance, span, checks=False)
        return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24 * DAYS, help="hours of the month to run")
    parser.add_argument(
        "--stock-storage",
        action="store_true",
        help="Dagster's own SQLite storage instead of the repository's dagster.yaml",
    )
    args = parser.parse_args()
    if not 1 <= args.hours <= 24 * DAYS:
        parser.error(f"--hours must be between 1 and {24 * DAYS}, got {args.hours}")
    before = os.getloadavg()
    wall, cpu = month_without_checks(args.hours, stock_storage=args.stock_storage)
    after = os.getloadavg()
    storage = "Dagster's SQLite storage" if args.stock_storage else "dagster.yaml's storage"
    per_hour = wall / args.hours * 1000
    print(
        f"{args.hours} hours without the checks on {storage}: {wall:.1f} s wall ({per_hour:.0f} "
        f"ms/hour), {cpu:.1f} s CPU; load average {before[0]:.1f} before, {after[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
