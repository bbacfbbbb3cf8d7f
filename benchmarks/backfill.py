"""Part 5: a month of one deployment's hours through Dagster, as one run and as a run per hour.

The single-run backfill is ``hourly_monitoring_job`` over the whole hour range (as
shipped: profile, great-expectations checks, drift scores; and again without the
checks). Run-per-hour is measured on consecutive hours from mid-month, each its own
``execute_in_process`` run on the same instance, and extrapolated linearly. The split
comes from the plain functions behind the assets, called directly with timers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from benchmarks.backfill_data import DEPLOYMENT, hours, write_config, write_deployment
from benchmarks.dagster_home import temporary_dagster_home
from benchmarks.data import DATA_DIR
from benchmarks.table import Row
from monitoring_pipelines.config import MonitorsConfig, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.quality import HourValidator
from monitoring_pipelines.stats.dataset import profile_chunks
from monitoring_pipelines.store.aggregates import read_baseline, write_profile
from monitoring_pipelines.store.engine import get_engine

HOUR = timedelta(hours=1)
SPEEDUP_TARGET = 50.0
SECONDS_TARGET = 120.0
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class BackfillSizes:
    """The month to generate and how many per-hour runs to sample."""

    days: int
    rows_per_hour: int
    reference_rows: int
    sample_hours: int


def _definitions(folder: Path, quality_checks: bool) -> dg.Definitions:
    path = write_config(folder, quality_checks)
    return build_definitions(load_config(path), str(path))


def single_run(defs: dg.Definitions, instance: dg.DagsterInstance, span: list[datetime]) -> float:
    """Seconds for one run materializing every hour of ``span`` (a single-run range backfill)."""
    start = time.perf_counter()
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
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
    return seconds


def run_per_hour(
    defs: dg.Definitions, instance: dg.DagsterInstance, sample: list[datetime]
) -> list[float]:
    """Seconds of each one-hour run of ``hourly_monitoring_job``, one run per hour."""
    job = defs.resolve_job_def(HOURLY_JOB)
    seconds = []
    for hour in sample:
        start = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, run_config=QUIET, partition_key=hour_key(DEPLOYMENT, hour)
        )
        seconds.append(time.perf_counter() - start)
        if not result.success:
            raise RuntimeError(f"the run for {hour:%Y-%m-%d %H:%M} failed")
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
    validator = HourValidator(DEPLOYMENT, baseline)
    seconds["validate"] += time.perf_counter() - start
    for hour in span:
        start = time.perf_counter()
        chunks = list(source.read_window(hour, hour + HOUR, columns))
        seconds["read"] += time.perf_counter() - start
        start = time.perf_counter()
        validator.reset()
        for chunk in chunks:
            validator.validate(chunk)
        validator.outcomes()
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
    score_windows(config, engine, [(DEPLOYMENT, hour) for hour in span])
    seconds["drift"] = time.perf_counter() - start
    return seconds


def backfill(sizes: BackfillSizes, data_dir: Path = DATA_DIR) -> list[Row]:
    """Rows for the single run (with and without checks), run-per-hour, and the split."""
    folder = write_deployment(sizes.days, sizes.rows_per_hour, sizes.reference_rows, data_dir)
    span = hours(sizes.days)
    middle = len(span) // 2
    sample = span[middle : middle + sizes.sample_hours]
    with temporary_dagster_home() as home:
        checked = _definitions(folder, quality_checks=True)
        unchecked = _definitions(folder, quality_checks=False)
        baseline = checked.resolve_job_def(BASELINE_JOB).execute_in_process(
            instance=home.instance, run_config=QUIET, partition_key=DEPLOYMENT
        )
        if not baseline.success:
            raise RuntimeError("the baseline run failed")
        with_checks = single_run(checked, home.instance, span)
        without_checks = single_run(unchecked, home.instance, span)
        per_hour = run_per_hour(checked, home.instance, sample)
        split = phase_split(load_config(write_config(folder, True)), home.store_url, span)
    return _rows(sizes, span, sample, with_checks, without_checks, per_hour, split)


def _rows(
    sizes: BackfillSizes,
    span: list[datetime],
    sample: list[datetime],
    with_checks: float,
    without_checks: float,
    per_hour: list[float],
    split: dict[str, float],
) -> list[Row]:
    n = len(span)
    part = (
        f"5 backfill ({sizes.days} days × 24 h of one deployment, {sizes.rows_per_hour:,} rows "
        f"per hour, 22 columns)"
    )
    extrapolated = sum(per_hour) / len(per_hour) * n
    speedup = extrapolated / with_checks
    rows_per_second = n * sizes.rows_per_hour / with_checks / 1e6
    table = [
        Row(
            part,
            f"single-run backfill of {n} hours, as shipped (profile + GE checks + drift scores)",
            f"{with_checks:.1f} s ({with_checks / n * 1000:.0f} ms/hour, {rows_per_second:.2f} M "
            "rows/s)",
            target=f"< {SECONDS_TARGET:.0f} s",
            met=with_checks < SECONDS_TARGET,
        ),
        Row(
            part,
            f"single-run backfill of {n} hours, quality_checks: false",
            f"{without_checks:.1f} s ({without_checks / n * 1000:.0f} ms/hour)",
            f"GE checks are {1 - without_checks / with_checks:.0%} of the shipped run",
        ),
        Row(
            part,
            f"one run per hour: {len(per_hour)} consecutive hours from "
            f"{sample[0]:%Y-%m-%d %H:%M}, extrapolated to {n} (mean × {n})",
            f"{sum(per_hour) / len(per_hour):.2f} s/run (min {min(per_hour):.2f}, max "
            f"{max(per_hour):.2f}) → {extrapolated:.0f} s",
            f"single run {speedup:.0f}× faster",
            f"≥ {SPEEDUP_TARGET:.0f}×",
            speedup >= SPEEDUP_TARGET,
        ),
    ]
    direct = sum(split.values())
    labels = {
        "read": "read (ParquetLogSource, baseline)",
        "validate": "GE checks (HourValidator)",
        "profile": "profile (profile_chunks)",
        "write": "write aggregates (write_profile)",
        "drift": "drift scores (score_windows: read, score, write)",
    }
    shares = ", ".join(f"{labels[k]} {v:.1f} s ({v / direct:.0%})" for k, v in split.items())
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
