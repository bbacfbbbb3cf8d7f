"""One partition of each partitioned table written through the store's own writers, and a way
to pause a writer between its DELETE and its INSERT; shared by the concurrency tests and the
writer process they kill."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, event, select

from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.store.aggregates import write_profile
from monitoring_pipelines.store.drift import write_drift_scores
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.partitions import replace_partition
from monitoring_pipelines.store.schema import aggregates, drift_scores, model_performance
from monitoring_pipelines.store.windows import Window

T0 = datetime(2026, 11, 5, 7, tzinfo=UTC)
H = timedelta(hours=1)
TABLES = ("aggregates", "drift_scores", "model_performance")
WAIT = 60  # seconds; only reached when something is wrong
# Each writer's rows: a shared name (a unique-key clash on aggregates if both sets survived)
# and one of its own; the marker tells whose row it is.
SETS = {
    "old": (["shared", "old_1", "old_2"], 1),
    "a": (["shared", "only_a"], 2),
    "b": (["shared", "only_b"], 3),
}


def write(engine: Engine, table: str, deployment: str, label: str) -> None:
    """Replace the partition (deployment, T0) of ``table`` with the ``label`` set."""
    names, marker = SETS[label]
    if table == "aggregates":
        frame = pd.DataFrame({name: np.arange(float(10 * marker)) for name in names})
        profile = fit_baseline(frame, dict.fromkeys(names, "numerical"))
        write_profile(engine, deployment, T0, profile, is_baseline=False, window_end=T0 + H)
    elif table == "drift_scores":
        scores = {
            name: [DriftResult("psi", marker / 10, None, 0.25, "stable", False, 100, 10 * marker)]
            for name in names
        }
        write_drift_scores(engine, deployment, T0, T0 + H, "hour", scores)
    else:
        rows = [
            {
                "window_end": T0 + H,
                "metric": name,
                "value": marker / 10,
                "n_labelled": 10 * marker,
                "computed_at": datetime.now(UTC),
            }
            for name in names
        ]
        key = {"deployment_id": deployment, "window_start": T0}
        replace_partition(
            engine, model_performance, key, rows, window=Window(deployment, "hour", T0, T0 + H)
        )


def stored(engine: Engine, table: str, deployment: str) -> list[tuple[str, int]]:
    """The partition's rows as sorted (name, marker) pairs, duplicates kept."""
    if table == "aggregates":
        t = aggregates
        query = select(t.c.column_name, t.c.row_count / 10).where(
            t.c.timestamp == T0, t.c.is_baseline.is_(False)
        )
    else:
        t = drift_scores if table == "drift_scores" else model_performance
        name = t.c.column_name if table == "drift_scores" else t.c.metric
        query = select(name, t.c.value * 10).where(t.c.window_start == T0)
    with engine.connect() as conn:
        rows = conn.execute(query.where(t.c.deployment_id == deployment))
        return sorted((name, round(marker)) for name, marker in rows)


def expected(label: str) -> list[tuple[str, int]]:
    names, marker = SETS[label]
    return sorted((name, marker) for name in names)


@contextmanager
def paused_before(
    engine: Engine, prefix: str, thread_name: str, reached: Callable[[], None], resume
) -> Iterator[None]:
    """While open: the statement starting with ``prefix`` that thread ``thread_name`` is about
    to run first calls ``reached``, then waits for ``resume``."""

    def hook(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread().name == thread_name and statement.startswith(prefix):
            reached()
            resume()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", hook)


class Writer(threading.Thread):
    """A thread writing one set; keeps its error instead of printing it."""

    def __init__(self, name: str, work) -> None:
        super().__init__(name=name, daemon=True)
        self.work, self.error = work, None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:  # reported by the test's assertion
            self.error = error
        finally:
            self.done.set()


def die_mid_write(url: str, table: str, deployment: str) -> None:
    """A writer process that deletes the partition's rows, says so, and waits to be killed."""
    engine = get_engine(url)

    def say_deleted() -> None:
        print("deleted", flush=True)

    insert = f"INSERT INTO {table} "
    with paused_before(engine, insert, "MainThread", say_deleted, lambda: time.sleep(600)):
        write(engine, table, deployment, "a")
    sys.exit("not killed")
