"""A backfill's hours split across worker processes, so a long range uses every core.

Each worker profiles (and validates) contiguous slices of the hours with
``profile_windows``, writing its own partitions through the store's per-partition locks;
the parent judges every hour's freshness once all are stored. Workers are not forked from
the parent (it may be a Dagster step process with threads of its own) but from a fork
server that imported their modules once (great-expectations and the parent's main module,
which a spawned worker imports again: about 5-9 s of CPU each); each worker still starts
clean, with no state of the parent's.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime

from sqlalchemy import Engine

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.pipeline.aggregation import WindowSummary, judged, profile_windows
from monitoring_pipelines.store.engine import get_engine

SLICES_PER_PROCESS = 4  # a few slices each, so progress moves and no worker idles long

Windows = list[tuple[str, datetime]]
# What every worker imports, loaded once in the fork server: the validation's library, this
# module, the store's PostgreSQL driver and the profiling kernel's numba module (importing
# compiles nothing; the parent's main module is added by ``worker_context``).
WORKER_MODULES = (
    "great_expectations",
    __name__,
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
    "monitoring_pipelines.stats.loops",
)


def worker_context() -> multiprocessing.context.BaseContext:
    """The fork server's context, preloading ``WORKER_MODULES`` and the main module that a
    worker would import again (by name when run with ``-m``, by path otherwise); the fork
    server starts once per parent process and keeps the first preload list it was given."""
    main = getattr(sys.modules["__main__"], "__spec__", None)
    preload = [main.name if main is not None else "__main__", *WORKER_MODULES]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    return context


def slices(windows: Windows, processes: int) -> list[Windows]:
    """The windows in contiguous slices, about ``SLICES_PER_PROCESS`` per process."""
    size = max(1, math.ceil(len(windows) / (processes * SLICES_PER_PROCESS)))
    return [windows[i : i + size] for i in range(0, len(windows), size)]


def _profile_slice(
    config: MonitorsConfig, url: str, windows: Windows, validate: bool
) -> tuple[list[WindowSummary], dict[tuple[str, datetime], str]]:
    """One worker's slice, on an engine of its own."""
    return profile_windows(config, get_engine(url), windows, validate=validate)


def aggregate_windows_split(
    config: MonitorsConfig,
    engine: Engine,
    windows: Windows,
    processes: int,
    progress: Callable[[int, int, WindowSummary], None] = lambda i, n, s: None,
    validate: bool = False,
) -> list[WindowSummary]:
    """``aggregate_windows`` with the hours spread over ``processes`` worker processes
    (a window with an unreadable log file fails alone, as there)."""
    url = engine.url.render_as_string(hide_password=False)
    parts = slices(windows, processes)
    done: dict[int, list[WindowSummary]] = {}
    failures: dict[tuple[str, datetime], str] = {}
    with ProcessPoolExecutor(min(processes, len(parts)), mp_context=worker_context()) as pool:
        futures = {
            pool.submit(_profile_slice, config, url, part, validate): i
            for i, part in enumerate(parts)
        }
        for future in as_completed(futures):
            summaries, failed = future.result()
            done[futures[future]] = summaries
            failures |= failed
            if summaries:
                finished = sum(len(d) for d in done.values())
                progress(finished, len(windows), summaries[-1])
    summaries = [s for i in range(len(parts)) for s in done[i]]
    return judged(engine, config, windows, summaries, failures)
