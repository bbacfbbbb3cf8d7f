"""Score many windows at once (every column of every window of a run, across deployments),
each metric computed in one array operation over the stacked counts of all its pairs.

The results equal :func:`~monitoring_pipelines.stats.scoring.score_window` window by
window: the same checks, thresholds, insufficient-data results, calibration, details and
multiple-testing correction (``window_tasks``, ``finish_column`` and ``by_column`` are
shared); only the measuring is batched (``metrics.stacked``). Metrics without a stacked
form are measured pair by pair.
"""

from __future__ import annotations

import gc
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import ColumnTask, DriftResult, finish_column
from monitoring_pipelines.stats.metrics.stacked import STACKED
from monitoring_pipelines.stats.metrics.stacked_cells import Cells
from monitoring_pipelines.stats.scoring import ScoringSettings, by_column, measure, window_tasks

# baseline, window, settings (or the fields of ScoringSettings as a mapping)
BatchWindow = tuple[DatasetProfile, DatasetProfile, ScoringSettings | Mapping[str, Any]]


def score_windows_batch(windows: Sequence[BatchWindow]) -> list[dict[str, tuple[DriftResult, ...]]]:
    """``score_window(baseline, current, settings)`` of each (baseline, current, settings)."""
    with deferred_gc():
        return _score(windows)


@contextmanager
def deferred_gc() -> Iterator[None]:
    """Hold Python's cyclic garbage collector while a batch allocates its results.

    A batch creates several objects per result that all survive it and form no cycles; the
    collections their growth triggers scan the whole heap again and again (measured: 40 %
    of a 400-window batch). Nested and concurrent holders share one count, and the collector
    runs again, if it was on, when the last one leaves.
    """
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()


_lock = threading.Lock()
_holders = 0
_was_enabled = True


def _score(windows: Sequence[BatchWindow]) -> list[dict[str, tuple[DriftResult, ...]]]:
    chosen = [ScoringSettings.of(settings) for _, _, settings in windows]
    planned = [
        window_tasks(baseline, current, settings)
        for (baseline, current, _), settings in zip(windows, chosen, strict=True)
    ]
    results: list[list[DriftResult | None]] = []
    groups: dict[tuple[str, tuple], list[tuple[int, int]]] = defaultdict(list)
    keys: dict[int, tuple] = {}  # id of a params mapping (each held by its tasks) → its key
    for w, tasks in enumerate(planned):
        results.append([])
        for j, (_, task) in enumerate(tasks):
            if isinstance(task, ColumnTask):
                key = keys.get(id(task.params))
                if key is None:
                    key = keys[id(task.params)] = _params_key(task.params)
                groups[(task.metric, key)].append((w, j))
                results[w].append(None)
            else:
                results[w].append(task)
    cells, memo = Cells(), {}
    for (metric, _), members in groups.items():
        tasks = [planned[w][j][1] for w, j in members]
        stacked = STACKED.get(metric)
        if stacked is None:
            measurements = [measure(task) for task in tasks]
        else:
            pairs = [(task.baseline, task.current) for task in tasks]
            measurements = stacked(pairs, cells, **tasks[0].params)
        for (w, j), task, measurement in zip(members, tasks, measurements, strict=True):
            results[w][j] = finish_column(task, measurement, memo)
    return [
        by_column(
            baseline,
            [(name, result) for (name, _), result in zip(planned[w], results[w], strict=True)],
            settings.correction,
        )
        for w, ((baseline, _, _), settings) in enumerate(zip(windows, chosen, strict=True))
    ]


def _params_key(params: Mapping[str, Any]) -> tuple:
    """Tasks with equal parameters are measured together."""
    return tuple(sorted((name, repr(value)) for name, value in params.items()))
