"""Part 9: drift scoring at fleet scale, batched against the per-result path (issue 15, item 5).

Setup (not timed): a SQLite store with, for each of 100 deployments, a baseline and one hour
of aggregates over 50 columns (40 numerical, 10 categorical: ``drift_cost``'s). Timed, in the
same process and interleaved, best of ``repeats``:

- the per-result path as it was shipped before batching: per deployment, read its baseline,
  calibration and hours, then per window (hour, trailing 24 h, day, week) merge, score every
  column metric by metric (``score_window``) and write the window in its own transaction;
- the batched path, ``score_windows`` over every deployment's hour: one query each for the
  baselines, calibrations and hours, every window scored in one batch
  (``score_windows_batch``: one array operation per metric over stacked counts), one
  transaction for every window's rows;
- scoring alone, in memory: ``score_window`` window by window vs ``score_windows_batch``;
- where the batched path's CPU goes: its read, merge, score and write calls timed (CPU
  seconds, best of ``repeats`` runs of each stage).

Both paths write the same rows: the benchmark compares them (values to 1e-12) and says so.

Usage: ``.venv/bin/python -m benchmarks.fleet_scoring [--deployments 100] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

from sqlalchemy import Engine, select

from benchmarks.battery import machine_facts
from benchmarks.dagster_home import temporary_dagster_home
from benchmarks.data import HOUR
from benchmarks.drift_cost import frame, write_aggregates, write_config
from benchmarks.table import Row, best_of, markdown
from monitoring_pipelines.config import DeploymentConfig, MonitorsConfig, load_config
from monitoring_pipelines.pipeline import drift as pipeline_drift
from monitoring_pipelines.pipeline.drift import affected_windows, score_profile, score_windows
from monitoring_pipelines.stats.batch_scoring import score_windows_batch
from monitoring_pipelines.stats.dataset import DatasetProfile, profile_frame
from monitoring_pipelines.stats.scoring import score_window
from monitoring_pipelines.stats.windows import merge_window, window_bounds
from monitoring_pipelines.store.aggregates import read_baseline, read_windows, write_profile
from monitoring_pipelines.store.calibration import read_calibration
from monitoring_pipelines.store.drift import write_drift_scores
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.multivariate import read_model
from monitoring_pipelines.store.schema import drift_scores

PART = "9 fleet scoring"
H = timedelta(hours=1)
RUN = HOUR + H  # the run's hour; HOUR is stored too, so each rolled-up window merges two
TARGET_SECONDS = 1.0


def per_result_path(config: MonitorsConfig, engine: Engine, deployment: DeploymentConfig) -> int:
    """The path before batching, for one deployment's run hour: reads per deployment, scoring
    per result, one transaction per window. Returns the number of windows written."""
    baseline = read_baseline(engine, deployment.id)
    calibration = read_calibration(engine, deployment.id)
    model = read_model(engine, deployment.id)[0]
    granularities = deployment.drift.granularities
    bounds = [window_bounds(RUN, g) for g in granularities]
    start = min(b[0] for b in bounds)
    end = max([b[1] for b in bounds] + [RUN + 24 * H])
    hourly = read_windows(engine, deployment.id, start, end, baseline)
    windows = affected_windows([RUN], hourly, granularities)
    for granularity, window_start, window_end in windows:
        profile = merge_window(hourly, window_start, window_end)
        scores = score_profile(config, deployment, baseline, profile, calibration, model)
        write_drift_scores(engine, deployment.id, window_start, window_end, granularity, scores)
    return len(windows)


def add_hour(
    config: MonitorsConfig, url: str, profiles: dict[str, tuple[DatasetProfile, DatasetProfile]]
) -> dict[str, list[DatasetProfile]]:
    """Store a second hour per deployment (the run hour, so every window merges distinct
    hours) and return each deployment's merged windows as the run scores them."""
    engine = get_engine(url)
    merged = {}
    for index, deployment in enumerate(config.deployments):
        baseline, first = profiles[deployment.id]
        rows = frame(2_000, 500 + index, 0.3 * index / len(config.deployments))
        second = profile_frame(rows, baseline)
        write_profile(engine, deployment.id, RUN, second, is_baseline=False, window_end=RUN + H)
        hourly = {HOUR: first, RUN: second}
        windows = affected_windows([RUN], hourly, deployment.drift.granularities)
        merged[deployment.id] = [merge_window(hourly, s, e) for _, s, e in windows]
    return merged


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _cpu(work: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``work`` (the CPU time tells a busy machine from the
    code: other sessions' processes take the cores, not this process's time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


STAGES = {
    "read_baselines": "read",
    "read_calibrations": "read",
    "read_models": "read",
    "read_fleet_windows": "read",
    "on_baseline": "read",
    "merge_window": "merge",
    "merge_windows": "merge",
    "score_windows_batch": "score",
    "multivariate_scores": "score",
    "write_drift_windows": "write",
}  # the names score_windows calls, by stage


@contextmanager
def stage_timers() -> Iterator[dict[str, float]]:
    """CPU seconds spent in each stage of ``score_windows`` while the context is open: its
    calls of :data:`STAGES` wrapped with timers (the functions themselves unchanged)."""
    spent: dict[str, float] = defaultdict(float)

    def timed(function: Callable, stage: str) -> Callable:
        def call(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] += time.process_time() - start

        return call

    with ExitStack() as stack:
        for name, stage in STAGES.items():
            wrapped = timed(getattr(pipeline_drift, name), stage)
            stack.enter_context(mock.patch.object(pipeline_drift, name, wrapped))
        yield spent


def _rows(engine: Engine) -> list[tuple]:
    """Every stored drift result, in a stable order, without ids and times."""
    c = drift_scores.c
    query = select(
        c.deployment_id,
        c.granularity,
        c.window_start,
        c.column_name,
        c.metric,
        c.value,
        c.p_value,
        c.threshold,
        c.status,
        c.drifted,
        c.reference_size,
        c.current_size,
    ).order_by(c.deployment_id, c.granularity, c.window_start, c.column_name, c.metric)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def _same(a: list[tuple], b: list[tuple]) -> bool:
    """Whether two result listings agree: equal fields, numbers to 1e-12 relative."""

    def close(x, y) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)
        return x == y

    return len(a) == len(b) and all(
        all(close(x, y) for x, y in zip(r, s, strict=True)) for r, s in zip(a, b, strict=True)
    )


def fleet_scoring(folder: Path, deployments: int = 100, repeats: int = 3) -> list[Row]:
    """Rows: machine facts, the stored paths (per result vs batched) and scoring alone."""
    facts = machine_facts()
    with temporary_dagster_home() as home:
        config = load_config(write_config(folder, deployments))
        profiles = write_aggregates(config, home.store_url, 5_000, 2_000)
        merged = add_hour(config, home.store_url, profiles)
        engine = get_engine(home.store_url)
        run = [(d.id, RUN) for d in config.deployments]
        old, new, old_rows, new_rows = [], [], [], []
        for _ in range(repeats):
            old.append(
                _cpu(lambda: [per_result_path(config, engine, d) for d in config.deployments])
            )
            old_rows = _rows(engine)
            new.append(_cpu(lambda: score_windows(config, engine, run)))
            new_rows = _rows(engine)
        stages: dict[str, list[float]] = defaultdict(list)
        for _ in range(repeats):
            with stage_timers() as spent:
                score_windows(config, engine, run)
            for stage in dict.fromkeys(STAGES.values()):
                stages[stage].append(spent[stage])
    jobs = [(profiles[d][0], window, {}) for d, windows in merged.items() for window in windows]
    alone_old = best_of(
        [_timed(lambda: [score_window(b, c) for b, c, _ in jobs]) for _ in range(repeats)]
    )
    alone_new = best_of([_timed(lambda: score_windows_batch(jobs)) for _ in range(repeats)])
    results = len(new_rows)
    (seconds_old, cpu_old), (seconds_new, cpu_new) = min(old), min(new)
    scale = f"{deployments} deployments × 50 columns × {len(jobs) // deployments} windows"
    return [
        Row(PART, "machine facts", facts),
        Row(
            PART,
            f"per-result path (before batching): {scale}, read + score + write, "
            "one transaction per window",
            f"{seconds_old:.3f} s for {results:,} results "
            f"({seconds_old / results * 1e6:.1f} µs each; CPU {cpu_old:.3f} s)",
        ),
        Row(
            PART,
            f"score_windows batched: {scale}, one query per read, one batch, one transaction",
            f"{seconds_new:.3f} s ({seconds_new / results * 1e6:.1f} µs per result; "
            f"CPU {cpu_new:.3f} s)",
            f"{seconds_old / seconds_new:.1f}× the per-result path (CPU "
            f"{cpu_old / cpu_new:.1f}×); results equal: "
            f"{'yes' if _same(old_rows, new_rows) else 'NO'}",
            f"≤ {TARGET_SECONDS:.0f} s",
            seconds_new <= TARGET_SECONDS,
        ),
        Row(
            PART,
            f"scoring alone, in memory ({len(jobs)} windows): score_window per window vs "
            "score_windows_batch",
            f"{alone_old:.3f} s vs {alone_new:.3f} s",
            f"{alone_old / alone_new:.1f}×",
        ),
        Row(
            PART,
            "score_windows batched, CPU by stage (best of each): read baselines and hours, "
            "merge windows, score, write",
            ", ".join(f"{stage} {min(seconds):.2f} s" for stage, seconds in stages.items()),
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_scoring")
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        print(markdown(fleet_scoring(Path(folder), args.deployments, args.repeats)))


if __name__ == "__main__":
    main()
