"""Score many windows at once (every column of every window of a run, across deployments),
each metric computed in one array operation over the stacked counts of all its pairs.

The results equal :func:`~monitoring_pipelines.stats.scoring.score_window` window by
window: the same checks, thresholds, insufficient-data results, calibration, details and
multiple-testing correction. They are planned, judged and returned column-oriented: a window's
results are one :class:`~monitoring_pipelines.stats.batch_plan.Plan` of arrays shared by the
windows of the same baseline and settings, its distances judged in one array operation per
metric, and it comes back as a :class:`~monitoring_pipelines.stats.result_table.ResultTable`
(the ``DriftResult`` objects built only if read). Metrics without a stacked form
(``metrics.stacked``) are measured pair by pair.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from monitoring_pipelines.stats.batch_plan import Plan, Sized, plan_of, sized
from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import (
    INSUFFICIENT_DATA,
    decide,
    decide_many,
    new_values_detail,
    noise_size,
    shift_detail,
)
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.metrics.stacked import STACKED
from monitoring_pipelines.stats.metrics.stacked_cells import Cells
from monitoring_pipelines.stats.multiple_testing import adjust_p_values
from monitoring_pipelines.stats.result_table import ResultTable
from monitoring_pipelines.stats.scoring import ScoringSettings

# baseline, window, settings (or the fields of ScoringSettings as a mapping)
BatchWindow = tuple[DatasetProfile, DatasetProfile, ScoringSettings | Mapping[str, Any]]


def score_windows_batch(windows: Sequence[BatchWindow]) -> list[ResultTable]:
    """``score_window(baseline, current, settings)`` of each (baseline, current, settings), as
    a mapping of the same results (column → ``DriftResult``s) held column-oriented."""
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


def _score(windows: Sequence[BatchWindow]) -> list[ResultTable]:
    chosen = [ScoringSettings.of(settings) for _, _, settings in windows]
    plans: dict[tuple, Plan] = {}
    shapes: dict[int, tuple] = {}
    planned = [
        plan_of(baseline, current, settings, plans, shapes)
        for (baseline, current, _), settings in zip(windows, chosen, strict=True)
    ]
    alike = _alike(windows, planned, chosen)
    scored = sorted(set(alike))
    windows_, planned_, chosen_ = ([x[w] for w in scored] for x in (windows, planned, chosen))
    sizes = [
        sized(plan, current, settings.min_rows)
        for plan, (_, current, _), settings in zip(planned_, windows_, chosen_, strict=True)
    ]
    measured = _measured(windows_, planned_, sizes)
    memo: dict = {}
    tables = {
        w: _judged(plan, size, window, settings, measurements, memo)
        for w, plan, size, window, settings, measurements in zip(
            scored, planned_, sizes, windows_, chosen_, measured, strict=True
        )
    }
    return [tables[w] for w in alike]


def _alike(
    windows: Sequence[BatchWindow], planned: Sequence[Plan], chosen: Sequence[ScoringSettings]
) -> list[int]:
    """For each window, the first window scored exactly like it: the same plan, baseline and
    window profile objects (windows holding the same stored hours share one merged profile),
    ``min_rows`` and correction (all else a window's results take from its settings is in the
    plan's key). Such windows share one read-only :class:`ResultTable`."""
    first: dict[tuple, int] = {}
    return [
        first.setdefault((id(plan), id(b), id(c), s.min_rows, s.correction), w)
        for w, (plan, (b, c, _), s) in enumerate(zip(planned, windows, chosen, strict=True))
    ]


def _measured(
    windows: Sequence[BatchWindow], planned: Sequence[Plan], sizes: Sequence[Sized]
) -> list[list[Measurement | None]]:
    """Each window's measurements by result (None where insufficient): every metric (with
    its parameters) measured once for all its distinct pairs of every window.

    A pair is the same column objects (windows holding the same stored hours share one merged
    profile, ``merge_windows``), so it is measured once and its :class:`Measurement` shared by
    those windows' results; a metric's value depends on its pair and parameters alone.
    """
    out: list[list[Measurement | None]] = [[None] * len(plan.metric) for plan in planned]
    groups: dict[tuple[str, tuple], tuple[str, Mapping, dict, list]] = {}
    for w, (plan, size, (baseline, current, _)) in enumerate(
        zip(planned, sizes, windows, strict=True)
    ):
        ref, cur, names = baseline.columns, current.columns, plan.column
        for metric, params, key, results in plan.groups:
            scored = results[size.scored[results]].tolist()
            if scored:
                group = groups.setdefault((metric, key), (metric, params, {}, []))
                distinct, places = group[2], group[3]
                for i in scored:
                    pair = ref[names[i]], cur[names[i]]
                    at = distinct.setdefault((id(pair[0]), id(pair[1])), (len(distinct), pair))
                    places.append((w, i, at[0]))
    cells = Cells()
    for metric, params, distinct, places in groups.values():
        pairs = [pair for _, pair in distinct.values()]
        stacked = STACKED.get(metric)
        if stacked is None:
            function = get_spec(metric).function
            measurements = [function(r, c, **params) for r, c in pairs]
        else:
            measurements = stacked(pairs, cells, **params)
        for w, i, at in places:
            out[w][i] = measurements[at]
    return out


def _judged(
    plan: Plan,
    size: Sized,
    window: BatchWindow,
    settings: ScoringSettings,
    measurements: list[Measurement | None],
    memo: dict,
) -> ResultTable:
    """One window's results from its measurements: thresholds (noise curves where
    calibrated), the decision per metric in arrays, details, then the p-value correction."""
    baseline, current, _ = window
    scored = size.scored
    value = [None if m is None else m.value for m in measurements]
    p_value = [None if m is None else m.p_value for m in measurements]
    detail = [{"min_rows": int(settings.min_rows)} if m is None else m.detail for m in measurements]
    threshold = list(plan.floor)
    noise: dict[int, dict] = {}
    for i, curve, training in plan.noise:
        if scored[i]:
            sizes = (int(plan.reference_size[i]), int(size.current_size[i]))
            at = noise_size(plan.specs[i], sizes, training)
            level = curve.threshold(at, settings.sigmas)
            threshold[i] = max(threshold[i], level)
            noise[i] = {"threshold_floor": plan.floor[i], "noise_threshold": level}
            if training is not None:
                noise[i]["noise_size"] = at
    status, drifted = _decided(plan, scored, value, p_value, threshold)
    columns = [current.columns[name] for name in plan.names]
    new = [new_values_detail(column, memo) for column in columns]
    need = scored & np.array([bool(x) for x in new], dtype=bool)[plan.at]
    need |= scored & np.array(drifted, dtype=bool) & plan.by_values
    need[list(noise)] = True
    for i in np.flatnonzero(need).tolist():
        extra = dict(noise.get(i, {}))
        extra |= new[plan.at[i]]
        if drifted[i] and plan.by_values[i]:
            name = plan.column[i]
            shifts = shift_detail(baseline.columns[name], current.columns[name], memo)
            if shifts is not None:
                extra["categories"] = shifts
        if extra:
            detail[i] = {**detail[i], **extra}
    _correct(plan, settings.correction, value, p_value, threshold, status, drifted, detail)
    return ResultTable(
        plan.names,
        plan.column,
        plan.metric,
        value,
        p_value,
        threshold,
        status,
        drifted,
        plan.reference_size.tolist(),
        size.current_size.tolist(),
        detail,
    )


def _decided(
    plan: Plan, scored: np.ndarray, value: list, p_value: list, threshold: list[float]
) -> tuple[list[str], list[bool]]:
    """Status and drift flag of every result: ``decide_many`` of each metric's measured
    results; ``insufficient_data`` and not drifted for the rest."""
    status = [INSUFFICIENT_DATA] * len(value)
    drifted = [False] * len(value)
    for spec, results in plan.by_spec:
        chosen = results[scored[results]].tolist()
        if chosen:
            statuses, flags = decide_many(
                spec,
                [value[i] for i in chosen],
                [p_value[i] for i in chosen],
                [threshold[i] for i in chosen],
            )
            for i, s, d in zip(chosen, statuses, flags, strict=True):
                status[i], drifted[i] = s, d
    return status, drifted


def _correct(plan: Plan, method: str, value, p_value, threshold, status, drifted, detail) -> None:
    """``multiple_testing.correct`` of the window's tests, in place: adjusted p-values, judged
    again, each keeping its own p-value in its detail."""
    tested = [i for i in plan.tests.tolist() if p_value[i] is not None]
    if method == "none" or not tested:
        return
    adjusted = adjust_p_values([p_value[i] for i in tested], method).tolist()
    for i, p in zip(tested, adjusted, strict=True):
        status[i], drifted[i] = decide(plan.specs[i], value[i], p, threshold[i])
        extra = {"raw_p_value": p_value[i], "correction": method, "tests": len(tested)}
        detail[i] = {**detail[i], **extra}
        p_value[i] = p
