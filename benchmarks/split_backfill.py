"""A month's backfill with the great-expectations checks, on Dagster's SQLite and PostgreSQL
storage, its hours on 1 and on N processes (``make bench`` part 11).

Part 5's deployment (30 days × 24 hours of 10,000 rows, 22 columns; ``backfill_data.py``)
in a fresh Dagster home: ``baseline_job``, then all 720 hours as one ``execute_in_process``
run of ``hourly_monitoring_job`` (every check on), once per storage and number of
processes (``defaults.backfill.processes``; above 1 the hours are spread over spawned
workers, ``pipeline/split.py``). ``sqlite`` is Dagster's default instance with the store
in a SQLite file (``make demo``, ``dagster dev``); ``postgres`` is the production
instance (``deploy/dagster.postgres.yaml``'s storage: dagster-postgres with the event log's
connections pooled, ``defs/instance_storage.py``) with the store in the same fresh
PostgreSQL database; ``postgres-stock`` is the same with dagster-postgres as shipped
(``storage: postgres:``), the comparison for the pooling. All run with the environment
``make serve`` gives the service's processes (``service.child_environment``: Dagster's
event batching on). Every run must store each hour once and record one result per check
and hour. Machine facts first, then wall seconds, the CPU seconds of this process and its
workers (the database server's are not counted), the 1-minute load average at the run's
start and end (the machine is shared), the ratio to the 1-process run on the same storage
and, for ``postgres``, to ``postgres-stock`` with as many processes.

Usage: ``.venv/bin/python -m benchmarks.split_backfill [--days 30] [--processes 1 2]
[--storage sqlite postgres postgres-stock]``; PostgreSQL at ``$TEST_POSTGRES_URL``
(default the local test server).
"""

from __future__ import annotations

import argparse
import multiprocessing.forkserver
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import dagster as dg
import yaml
from sqlalchemy import create_engine, make_url, text

from benchmarks.backfill_data import DEPLOYMENT, hours, write_config, write_deployment
from benchmarks.dagster_home import temporary_dagster_home
from benchmarks.data import DATA_DIR
from benchmarks.partition_events import POSTGRES_URL, machine
from benchmarks.table import Row, markdown
from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.service import child_environment
from monitoring_pipelines.store.engine import DATABASE_URL_ENV, get_engine

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TARGET_SECONDS = 120.0
STORAGES = ("sqlite", "postgres", "postgres-stock")
DEFAULT_STORAGES = ("sqlite", "postgres")
PRODUCTION_YAML = Path(__file__).resolve().parents[1] / "deploy" / "dagster.postgres.yaml"


@dataclass(frozen=True)
class MonthRun:
    """One measured backfill."""

    storage: str
    processes: int
    hours: int
    seconds: float
    cpu_seconds: float
    check_results: int
    load: tuple[float, float]  # 1-minute load average at the start and the end of the run


def config_with_processes(folder: Path, processes: int) -> Path:
    """The checked monitors.yaml of the month with ``defaults.backfill.processes`` set."""
    config = yaml.safe_load(write_config(folder, quality_checks=True).read_text())
    config["defaults"]["backfill"] = {"processes": processes}
    path = folder / f"monitors-processes-{processes}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def production_storage(postgres_url: str) -> dict:
    """``deploy/dagster.postgres.yaml``'s storage block with its connection set to
    ``postgres_url`` (the shipped class and its pooled event log, not a copy of it)."""
    storage = yaml.safe_load(PRODUCTION_YAML.read_text())["storage"]
    ((kind, block),) = storage.items()
    if kind == "postgres":
        return {"postgres": {"postgres_url": postgres_url}}
    return {kind: {**block, "config": {"postgres_url": postgres_url}}}


@contextmanager
def dagster_home(storage: str) -> Iterator[tuple[dg.DagsterInstance, str]]:
    """A fresh instance and store URL: SQLite files, or one new PostgreSQL database for both
    (dropped afterwards); ``DAGSTER_HOME`` and the store's URL point there while open."""
    if storage not in STORAGES:
        raise ValueError(f"storage {storage!r}: expected one of {', '.join(STORAGES)}")
    if storage == "sqlite":
        with temporary_dagster_home() as home:
            yield home.instance, home.store_url
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_month_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(POSTGRES_URL).set(database=name)
    store_url = url.render_as_string(hide_password=False)
    dagster = url.set(drivername="postgresql+psycopg2")
    dagster_url = dagster.render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-month-") as folder:
            settings = {
                "storage": {"postgres": {"postgres_url": dagster_url}}
                if storage == "postgres-stock"
                else production_storage(dagster_url)
            }
            (Path(folder) / "dagster.yaml").write_text(yaml.safe_dump(settings))
            with (
                mock.patch.dict(os.environ, {"DAGSTER_HOME": folder, DATABASE_URL_ENV: store_url}),
                dg.DagsterInstance.from_config(folder) as instance,
            ):
                yield instance, store_url
    finally:
        get_engine(store_url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _fork_server_seconds() -> float:
    """CPU of the split's fork server and of the workers it has reaped (``/proc``: they are
    its children, not ours, so ``RUSAGE_CHILDREN`` misses them); 0 before it starts."""
    pid = multiprocessing.forkserver._forkserver._forkserver_pid
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), after the name's ``)``
    return sum(int(tick) for tick in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = mine.ru_utime + mine.ru_stime + workers.ru_utime + workers.ru_stime
    return spawned + _fork_server_seconds()


def month_run(folder: Path, days: int, processes: int, storage: str = "sqlite") -> MonthRun:
    """The single-run backfill of every hour, checks on, on ``processes`` and ``storage``."""
    path = config_with_processes(folder, processes)
    span = hours(days)
    service = {k: v for k, v in child_environment().items() if k.startswith("DAGSTER_EVENT")}
    with dagster_home(storage) as (instance, store_url), mock.patch.dict(os.environ, service):
        defs = build_definitions(load_config(path), str(path))
        baseline = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
            instance=instance, run_config=QUIET, partition_key=DEPLOYMENT
        )
        assert baseline.success
        tags = {
            "dagster/asset_partition_range_start": str(hour_key(DEPLOYMENT, span[0])),
            "dagster/asset_partition_range_end": str(hour_key(DEPLOYMENT, span[-1])),
        }
        load = os.getloadavg()[0]
        cpu, start = _cpu_seconds(), time.perf_counter()
        result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
            instance=instance, run_config=QUIET, tags=tags
        )
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        load = (load, os.getloadavg()[0])
        evaluations = result.get_asset_check_evaluations() if result.success else []
        checks = {e.check_name for e in evaluations}
        per_hour = {(e.check_name, e.partition) for e in evaluations}
        if (
            not checks
            or len(per_hour) != len(evaluations)
            or len(per_hour) != len(checks) * len(span)
        ):
            raise RuntimeError(f"{storage}, {processes} processes: not one result per check/hour")
        with get_engine(store_url).connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT timestamp, column_name, count(*) FROM aggregates "
                    "WHERE NOT is_baseline AND deployment_id = :d GROUP BY timestamp, column_name"
                ),
                {"d": DEPLOYMENT},
            ).all()
    if len({row[0] for row in stored}) != len(span) or any(row[2] != 1 for row in stored):
        raise RuntimeError(f"{storage}, {processes} processes: not each hour stored once")
    return MonthRun(storage, processes, len(span), seconds, cpu, len(evaluations), load)


def _ratios(run: MonthRun, runs: list[MonthRun]) -> str:
    """Against the fewest-process run of the same storage, and a pooled PostgreSQL run
    against stock dagster-postgres with as many processes (wall and CPU)."""
    same = [r for r in runs if r.storage == run.storage]
    base = min(same, key=lambda r: r.processes)
    parts = []
    if run is not base:
        parts.append(f"{base.seconds / run.seconds:.2f}× the {base.processes}-process run")
    stock = [r for r in runs if r.storage == "postgres-stock" and r.processes == run.processes]
    if run.storage == "postgres" and stock:
        wall, cpu = stock[0].seconds / run.seconds, stock[0].cpu_seconds / run.cpu_seconds
        parts.append(f"{wall:.2f}× faster, {cpu:.2f}× less CPU than stock dagster-postgres")
    return "; ".join(parts)


def rows(runs: list[MonthRun]) -> list[Row]:
    """Table rows: each run against the target and against its comparisons (``_ratios``)."""
    return [
        Row(
            f"11 backfill with checks ({run.hours} hours of one deployment, 22 columns)",
            f"{run.storage} instance, one run, {run.processes} process(es); "
            f"{run.check_results} check results (one per check and hour)",
            f"{run.seconds:.1f} s ({1000 * run.seconds / run.hours:.0f} ms/hour); "
            f"CPU {run.cpu_seconds:.0f} s; load {run.load[0]:.1f} → {run.load[1]:.1f}",
            _ratios(run, runs),
            f"< {TARGET_SECONDS:.0f} s" if run.hours == 720 else "",
            run.seconds < TARGET_SECONDS if run.hours == 720 else None,
        )
        for run in runs
    ]


def split_backfill(
    days: int,
    rows_per_hour: int,
    processes: list[int],
    storages: list[str],
    reference_rows: int = 100_000,
    data_dir: Path = DATA_DIR,
) -> list[Row]:
    """``make bench`` part 11."""
    folder = write_deployment(days, rows_per_hour, reference_rows, data_dir)
    return rows([month_run(folder, days, p, s) for s in storages for p in processes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--storage", nargs="+", choices=STORAGES, default=list(DEFAULT_STORAGES))
    args = parser.parse_args()
    print(machine())
    print(markdown(split_backfill(args.days, args.rows, args.processes, args.storage)))
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
