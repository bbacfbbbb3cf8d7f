"""Part 5's realistic run-per-hour: each hour one ``dagster`` CLI process, timed wall-clock.

Dagster's default run launcher starts a new process per run, which loads the code
location (Dagster, the project, great-expectations) before any work, and the default
executor runs each step in a process of its own; ``execute_in_process`` skips all that.
Each sampled hour here is one ``dagster`` command on the benchmark's instance
(``DAGSTER_HOME``), monitors.yaml (``MONITORS_CONFIG``) and store (``MONITORING_DATABASE_URL``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterEventType, DagsterRunStatus

from benchmarks.backfill_jobs import UNCHECKED_JOB
from benchmarks.dagster_home import DagsterHome
from monitoring_pipelines.config import CONFIG_ENV
from monitoring_pipelines.store.engine import DATABASE_URL_ENV

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
QUIET_YAML = "loggers:\n  console:\n    config:\n      log_level: WARNING\n"
ASSETS = "hourly_aggregates,drift_scores"


@dataclass(frozen=True)
class LaunchedRun:
    """Wall-clock seconds of one ``dagster`` process and the checks its run evaluated."""

    partition: str
    seconds: float
    check_evaluations: int


def command(partition: str, checks: bool, run_config: Path) -> list[str]:
    """The CLI call for one hour: the assets with their checks, or the job without them."""
    if checks:
        target = ["asset", "materialize", "-m", "monitoring_pipelines.definitions"]
        target += ["--select", ASSETS, "--partition", partition]
    else:
        target = ["job", "execute", "-m", "benchmarks.backfill_location", "-j", UNCHECKED_JOB]
        target += ["--tags", json.dumps({"dagster/partition": partition})]
    return [str(DAGSTER), *target, "-c", str(run_config)]


def launched_runs(
    home: DagsterHome, config_path: Path, partitions: list[str], checks: bool
) -> list[LaunchedRun]:
    """Run each partition as its own ``dagster`` process; raise if a run fails."""
    run_config = home.path / "quiet-run-config.yaml"
    run_config.write_text(QUIET_YAML)
    env = os.environ | {
        "DAGSTER_HOME": str(home.path),
        DATABASE_URL_ENV: home.store_url,
        CONFIG_ENV: str(config_path),
    }
    runs = []
    for partition in partitions:
        start = time.perf_counter()
        done = subprocess.run(
            command(partition, checks, run_config),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        latest = home.instance.get_runs(limit=1)
        run = latest[0] if latest else None
        if (
            done.returncode
            or run is None
            or run.status != DagsterRunStatus.SUCCESS
            or run.tags.get("dagster/partition") != partition
        ):
            tail = "\n".join(done.stderr.splitlines()[-15:])
            raise RuntimeError(f"the dagster run for {partition} failed:\n{tail}")
        evaluations = home.instance.all_logs(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        )
        runs.append(LaunchedRun(partition, seconds, len(evaluations)))
    return runs
