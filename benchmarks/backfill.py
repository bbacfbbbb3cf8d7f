"""Part 5: a month of one deployment's hours through Dagster, as one run and as a run per hour.

The single-run backfill is one ``execute_in_process`` run over the whole hour range, with
the great-expectations checks (``hourly_monitoring_job``, as shipped) and without them (a
job whose selection excludes the checks, as a UI backfill with the checks deselected).
Run-per-hour is measured on consecutive hours from mid-month, both ways: as
``execute_in_process`` runs (a lower bound: no process start, no code loading) and as one
``dagster`` CLI process per hour (what the default run launcher costs); each is
extrapolated linearly. The split comes from the plain functions behind the assets, called
directly with timers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from benchmarks.backfill_data import DEPLOYMENT, hours, write_config, write_deployment
from benchmarks.backfill_jobs import UNCHECKED_JOB, with_unchecked_job
from benchmarks.dagster_home import DagsterHome, temporary_dagster_home
from benchmarks.data import DATA_DIR
from benchmarks.launched_runs import LaunchedRun, launched_runs
from benchmarks.table import Row
from monitoring_pipelines.config import MonitorsConfig, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.quality import BatchValidator
from monitoring_pipelines.stats.dataset import profile_chunks
from monitoring_pipelines.store.aggregates import read_baseline, write_profile
from monitoring_pipelines.store.engine import get_engine

HOUR = timedelta(hours=1)
SPEEDUP_TARGET = 50.0
SECONDS_TARGET = 120.0
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
JOBS = {True: HOURLY_JOB, False: UNCHECKED_JOB}


@dataclass(frozen=True)
class BackfillSizes:
    """The month to generate, the per-hour runs to sample in process and as CLI processes
    (at least one each)."""

    days: int
    rows_per_hour: int
    reference_rows: int
    sample_hours: int
    launched_hours: int


@dataclass(frozen=True)
class Timings:
    """Seconds of each way of running the month, with and without the checks."""

    single: dict[bool, float]
    in_process: dict[bool, list[float]]
    launched: dict[bool, list[LaunchedRun]]
    split: dict[str, float]


def _expect_checks(what: str, evaluations: int, checks: bool) -> None:
    """Fail when a run evaluated checks it should have skipped, or skipped those it should run."""
    if (evaluations > 0) != checks:
        expected = "some" if checks else "none"
        raise RuntimeError(f"{what} evaluated {evaluations} asset checks, expected {expected}")


def single_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, span: list[datetime], checks: bool
) -> float:
    """Seconds for one run materializing every hour of ``span`` (a single-run range backfill)."""
    start = time.perf_counter()
    result = defs.resolve_job_def(JOBS[checks]).execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": str(hour_key(DEPLOYMENT, span[0])),
            "dagster/asset_partition_range_end": str(hour_key(DEPLOYMENT, span[-1])),
        },
    )
    seconds = time.perf_counter() - start
    if not result.success:
        raise RuntimeError("the single-run backfill failed")
    _expect_checks("the single-run backfill", len(result.get_asset_check_evaluations()), checks)
    return seconds


def run_per_hour(
    defs: dg.Definitions, instance: dg.DagsterInstance, sample: list[datetime], checks: bool
) -> list[float]:
    """Seconds of each one-hour ``execute_in_process`` run, one run per hour."""
    job = defs.resolve_job_def(JOBS[checks])
    seconds = []
    for hour in sample:
        start = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, run_config=QUIET, partition_key=hour_key(DEPLOYMENT, hour)
        )
        seconds.append(time.perf_counter() - start)
        if not result.success:
            raise RuntimeError(f"the run for {hour:%Y-%m-%d %H:%M} failed")
        _expect_checks(
            f"the run for {hour:%H:%M}", len(result.get_asset_check_evaluations()), checks
        )
    return seconds


def phase_split(config: MonitorsConfig, url: str, span: list[datetime]) -> dict[str, float]:
    """Seconds in reading, GE validation, profiling, writing and drift scoring for ``span``,
    timing the functions the assets call, each hour as in ``aggregate_window``."""
    engine = get_engine(url)
    deployment = config.deployment(DEPLOYMENT)
    columns = [*deployment.monitored, deployment.logs.timestamp_column]
    seconds = dict.fromkeys(("read", "validate", "profile", "write", "drift"), 0.0)
    start = time.perf_counter()
    baseline = read_baseline(engine, DEPLOYMENT)
    source = log_source(config, deployment)
    seconds["read"] += time.perf_counter() - start
    start = time.perf_counter()
    validator = BatchValidator(DEPLOYMENT, baseline)
    seconds["validate"] += time.perf_counter() - start
    for hour in span:
        start = time.perf_counter()
        chunks = list(source.read_window(hour, hour + HOUR, columns))
        seconds["read"] += time.perf_counter() - start
        start = time.perf_counter()
        for chunk in chunks:
            validator.add(hour, chunk)
        seconds["validate"] += time.perf_counter() - start
        start = time.perf_counter()
        profile = profile_chunks(chunks, baseline)
        seconds["profile"] += time.perf_counter() - start
        start = time.perf_counter()
        write_profile(
            engine,
            DEPLOYMENT,
            hour,
            profile,
            is_baseline=False,
            window_end=hour + HOUR,
            response_columns=deployment.response_columns,
        )
        seconds["write"] += time.perf_counter() - start
    start = time.perf_counter()
    for hour in span:
        validator.outcomes(hour)
    seconds["validate"] += time.perf_counter() - start
    start = time.perf_counter()
    score_windows(config, engine, [(DEPLOYMENT, hour) for hour in span])
    seconds["drift"] = time.perf_counter() - start
    return seconds


@contextmanager
def month_home(
    days: int,
    rows_per_hour: int,
    reference_rows: int,
    data_dir: Path = DATA_DIR,
    stock_storage: bool = False,
) -> Iterator[tuple[Path, dg.Definitions, DagsterHome]]:
    """The month's deployment written once and a temporary Dagster home (``stock_storage``:
    Dagster's own SQLite storage, not dagster.yaml's) with its baseline run done: the
    config's path, the definitions (the unchecked job included) and the home."""
    folder = write_deployment(days, rows_per_hour, reference_rows, data_dir)
    config_path = write_config(folder, quality_checks=True)
    with temporary_dagster_home(stock_storage) as home:
        defs = with_unchecked_job(build_definitions(load_config(config_path), str(config_path)))
        baseline = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
            instance=home.instance, run_config=QUIET, partition_key=DEPLOYMENT
        )
        if not baseline.success:
            raise RuntimeError("the baseline run failed")
        yield config_path, defs, home


def backfill(sizes: BackfillSizes, data_dir: Path = DATA_DIR) -> list[Row]:
    """Rows for the single run, run-per-hour in process and as CLI processes, and the split."""
    span = hours(sizes.days)
    middle = len(span) // 2
    sample = span[middle : middle + sizes.sample_hours]
    partitions = [
        str(hour_key(DEPLOYMENT, h)) for h in span[middle : middle + sizes.launched_hours]
    ]
    month = month_home(sizes.days, sizes.rows_per_hour, sizes.reference_rows, data_dir)
    with month as (config_path, defs, home):
        ways = (True, False)
        single = {checks: single_run(defs, home.instance, span, checks) for checks in ways}
        in_process = {checks: run_per_hour(defs, home.instance, sample, checks) for checks in ways}
        launched = {}
        for checks in ways:
            launched[checks] = launched_runs(home, config_path, partitions, checks)
            for run in launched[checks]:
                _expect_checks(f"the CLI run for {run.partition}", run.check_evaluations, checks)
        split = phase_split(load_config(config_path), home.store_url, span)
    return _rows(sizes, span, sample, Timings(single, in_process, launched, split))


def _per_hour_row(
    part: str, what: str, seconds: list[float], n: int, single: float, target: bool
) -> Row:
    mean = sum(seconds) / len(seconds)
    speedup = mean * n / single
    return Row(
        part,
        what,
        f"{mean:.2f} s/run (min {min(seconds):.2f}, max {max(seconds):.2f}) → {mean * n:.0f} s",
        f"single run {speedup:.0f}× faster" + ("" if target else " (lower bound)"),
        f"≥ {SPEEDUP_TARGET:.0f}×" if target else "",
        speedup >= SPEEDUP_TARGET if target else None,
    )


def _rows(
    sizes: BackfillSizes, span: list[datetime], sample: list[datetime], t: Timings
) -> list[Row]:
    n = len(span)
    part = (
        f"5 backfill ({sizes.days} days × 24 h of one deployment, {sizes.rows_per_hour:,} rows "
        f"per hour, 22 columns)"
    )
    with_checks, without_checks = t.single[True], t.single[False]
    rows_per_second = n * sizes.rows_per_hour / with_checks / 1e6
    launched_from = t.launched[True][0].partition
    variants = {
        True: (with_checks, "with checks (hourly_monitoring_job)"),
        False: (without_checks, "without checks (the job of the two assets .without_checks())"),
    }
    commands = {
        True: "`dagster asset materialize -m monitoring_pipelines.definitions --select "
        "hourly_aggregates,drift_scores --partition <deployment|hour>`",
        False: f"`dagster job execute -m benchmarks.backfill_location -j {UNCHECKED_JOB} "
        '--tags \'{"dagster/partition": "<deployment|hour>"}\'`',
    }
    table = [
        Row(
            part,
            f"single-run backfill of {n} hours, as shipped: hourly_monitoring_job (profile + GE "
            "checks + drift scores), one execute_in_process run with range tags",
            f"{with_checks:.1f} s ({with_checks / n * 1000:.0f} ms/hour, {rows_per_second:.2f} M "
            "rows/s)",
            target=f"< {SECONDS_TARGET:.0f} s",
            met=with_checks < SECONDS_TARGET,
        ),
        Row(
            part,
            f"single-run backfill of {n} hours without the checks: a job over "
            "AssetSelection.assets('hourly_aggregates', 'drift_scores').without_checks() (a UI "
            "backfill with the checks deselected), one execute_in_process run",
            f"{without_checks:.1f} s ({without_checks / n * 1000:.0f} ms/hour)",
            f"GE checks are {1 - without_checks / with_checks:.0%} of the shipped run",
        ),
    ]
    for checks, (single, label) in variants.items():
        table.append(
            _per_hour_row(
                part,
                f"one run per hour {label}, in process (lower bound: no process start, no code "
                f"loading): {len(sample)} consecutive hours from {sample[0]:%Y-%m-%d %H:%M}, each "
                f"an execute_in_process run on the same instance; mean × {n}",
                t.in_process[checks],
                n,
                single,
                target=False,
            )
        )
    for checks, (single, label) in variants.items():
        table.append(
            _per_hour_row(
                part,
                f"one run per hour {label}, each a fresh process as the default run launcher "
                f"starts: {len(t.launched[checks])} consecutive hours from {launched_from}, each "
                f"{commands[checks]}, subprocess wall-clock; mean × {n}",
                [run.seconds for run in t.launched[checks]],
                n,
                single,
                target=True,
            )
        )
    direct = sum(t.split.values())
    labels = {
        "read": "read (ParquetLogSource, baseline)",
        "validate": "GE checks (BatchValidator)",
        "profile": "profile (profile_chunks)",
        "write": "write aggregates (write_profile)",
        "drift": "drift scores (score_windows: read, score, write)",
    }
    shares = ", ".join(f"{labels[k]} {v:.1f} s ({v / direct:.0%})" for k, v in t.split.items())
    table.append(
        Row(
            part,
            f"split of the {n} hours, plain functions called directly",
            f"{shares}; total {direct:.1f} s",
            f"Dagster's own share of the single run ≈ {max(with_checks - direct, 0.0):.1f} s "
            f"({max(with_checks - direct, 0.0) / with_checks:.0%})",
        )
    )
    return table
