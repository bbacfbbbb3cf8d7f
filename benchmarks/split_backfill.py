"""A month's backfill with the great-expectations checks, its hours on 1 and on N processes.

Part 5's deployment (30 days × 24 hours of 10,000 rows, 22 columns; ``backfill_data.py``)
in a temporary SQLite Dagster home: ``baseline_job``, then all 720 hours as one
``execute_in_process`` run of ``hourly_monitoring_job`` (checks on), once with
``defaults.backfill.processes: 1`` (the single-process run) and once per larger value
(the hours spread over spawned workers, ``pipeline/split.py``). Every run must evaluate
checks and leave each hour stored once. Machine facts are printed first: the ratio only
means something next to the cores and the load.

Usage: ``.venv/bin/python -m benchmarks.split_backfill [--days 30] [--processes 1 2]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml
from sqlalchemy import text

from benchmarks.backfill_data import DEPLOYMENT, hours, write_config, write_deployment
from benchmarks.dagster_home import temporary_dagster_home
from benchmarks.partition_events import machine
from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.store.engine import get_engine

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TARGET_SECONDS = 120.0


def config_with_processes(folder: Path, processes: int) -> Path:
    """The checked monitors.yaml of the month with ``defaults.backfill.processes`` set."""
    config = yaml.safe_load(write_config(folder, quality_checks=True).read_text())
    config["defaults"]["backfill"] = {"processes": processes}
    path = folder / f"monitors-processes-{processes}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def month_seconds(folder: Path, days: int, processes: int) -> float:
    """Seconds of the single-run backfill of every hour, checks on, on ``processes``."""
    path = config_with_processes(folder, processes)
    span = hours(days)
    with temporary_dagster_home() as home:
        defs = build_definitions(load_config(path), str(path))
        baseline = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
            instance=home.instance, run_config=QUIET, partition_key=DEPLOYMENT
        )
        assert baseline.success
        tags = {
            "dagster/asset_partition_range_start": str(hour_key(DEPLOYMENT, span[0])),
            "dagster/asset_partition_range_end": str(hour_key(DEPLOYMENT, span[-1])),
        }
        start = time.perf_counter()
        result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
            instance=home.instance, run_config=QUIET, tags=tags
        )
        seconds = time.perf_counter() - start
        if not result.success or not result.get_asset_check_evaluations():
            raise RuntimeError(f"the backfill on {processes} processes failed or ran no check")
        with get_engine(home.store_url).connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT count(DISTINCT timestamp), count(*) FROM aggregates "
                    "WHERE NOT is_baseline"
                )
            ).one()
        columns = len(load_config(path).deployment(DEPLOYMENT).monitored)
        if tuple(stored) != (len(span), len(span) * columns):
            raise RuntimeError(f"{processes} processes stored {tuple(stored)} (hours, rows)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    folder = write_deployment(args.days, args.rows, 100_000)
    print(machine())
    seconds = {p: month_seconds(folder, args.days, p) for p in args.processes}
    base = seconds[min(seconds)]
    for processes, took in seconds.items():
        met = "met" if took < TARGET_SECONDS else "not met"
        print(
            f"{24 * args.days} hours × {args.rows} rows, checks on, {processes} process(es): "
            f"{took:.1f} s ({base / took:.2f}× the {min(seconds)}-process run; "
            f"target < {TARGET_SECONDS:.0f} s {met})"
        )


if __name__ == "__main__":
    main()
