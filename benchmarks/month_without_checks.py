"""Part 5's single-run month without the checks, alone: wall and CPU seconds of one run.

The same run as part 5's "single-run backfill of 720 hours without the checks" (the job
of ``hourly_aggregates`` and ``drift_scores`` ``.without_checks()``, one
``execute_in_process`` run with range tags, a temporary SQLite Dagster home), without the
slow run-per-hour rows, so a change to it can be timed in minutes. CPU seconds are this
process's (the run is one process); on a shared machine they move less than the wall time.
The home is the development instance (the repository's ``dagster.yaml``, as ``make demo``
uses it); ``--stock-storage`` runs it on Dagster's own SQLite storage instead, which writes
every event alone.

``--rows FILE`` writes the stored ``aggregates`` (the hours, not the baseline) and
``drift_scores`` rows to FILE after the run, one line each without their ids and write times,
in a fixed order, and prints their digest: two versions of the code store the same numbers
when the files are identical (run both with the same ``PYTHONHASHSEED``).

Usage: ``.venv/bin/python -m benchmarks.month_without_checks [--hours 720] [--stock-storage]
[--rows FILE]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks.backfill import month_home, single_run
from benchmarks.backfill_data import hours
from benchmarks.data import DATA_DIR

DAYS, ROWS_PER_HOUR, REFERENCE_ROWS = 30, 10_000, 100_000  # part 5's month (benchmarks.run)


UNCOMPARED = ("id", "computed_at")  # differ between any two runs
STORED = {  # table → (rows compared, order)
    "aggregates": ("NOT is_baseline", "timestamp, segment, column_name"),
    "drift_scores": ("1", "window_start, granularity, reference, segment, column_name, metric"),
}


def month_without_checks(
    n_hours: int, data_dir: Path = DATA_DIR, stock_storage: bool = False, rows: Path | None = None
) -> tuple[float, float]:
    """(wall, CPU) seconds of one no-checks run over the first ``n_hours`` of the month; with
    ``rows``, the stored rows are written there after it (:func:`dump_rows`)."""
    span = hours(DAYS)[:n_hours]
    month = month_home(DAYS, ROWS_PER_HOUR, REFERENCE_ROWS, data_dir, stock_storage)
    with month as (_, defs, home):
        cpu = time.process_time()
        wall = single_run(defs, home.instance, span, checks=False)
        cpu = time.process_time() - cpu
        if rows is not None:
            dump_rows(home.store_url, rows)
        return wall, cpu


def dump_rows(store_url: str, path: Path) -> None:
    """Write the compared rows of :data:`STORED` to ``path`` as text, one line per row (its
    columns by name, floats as their shortest round-trip ``repr``)."""
    database = make_url(store_url).database
    lines = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        for table, (where, order) in STORED.items():
            names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            kept = [n for n in names if n not in UNCOMPARED]
            query = f"SELECT {', '.join(kept)} FROM {table} WHERE {where} ORDER BY {order}"
            for row in conn.execute(query):
                values = ", ".join(f"{n}={v!r}" for n, v in zip(kept, row, strict=True))
                lines.append(f"{table}: {values}\n")
    path.write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24 * DAYS, help="hours of the month to run")
    parser.add_argument(
        "--stock-storage",
        action="store_true",
        help="Dagster's own SQLite storage instead of the repository's dagster.yaml",
    )
    parser.add_argument(
        "--rows", type=Path, help="write the stored rows to this file after the run, to compare"
    )
    args = parser.parse_args()
    if not 1 <= args.hours <= 24 * DAYS:
        parser.error(f"--hours must be between 1 and {24 * DAYS}, got {args.hours}")
    before = os.getloadavg()
    wall, cpu = month_without_checks(args.hours, stock_storage=args.stock_storage, rows=args.rows)
    after = os.getloadavg()
    storage = "Dagster's SQLite storage" if args.stock_storage else "dagster.yaml's storage"
    per_hour = wall / args.hours * 1000
    print(
        f"{args.hours} hours without the checks on {storage}: {wall:.1f} s wall ({per_hour:.0f} "
        f"ms/hour), {cpu:.1f} s CPU; load average {before[0]:.1f} before, {after[0]:.1f} after"
    )
    if args.rows is not None:
        digest = hashlib.sha256(args.rows.read_bytes()).hexdigest()
        lines = args.rows.read_text().count("\n")
        print(f"stored rows: {lines:,} lines in {args.rows}, sha256 {digest}")


if __name__ == "__main__":
    main()
