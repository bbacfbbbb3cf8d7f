"""What a batch of windows scores, planned column-oriented (``stats.batch_scoring``): each
(baseline, settings) pair's results as one :class:`Plan` of per-result arrays, checked once
for all the windows that share it, and each window's sizes and insufficient-data mask as
arrays over that plan.

The checks, thresholds, noise curves and parameters are ``window_tasks``'s (``plan_column``'s
``checked_metric``, in the same order, so the same error comes first); only the layout differs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

import numpy as np

from monitoring_pipelines.stats.calibration import NoiseCurve
from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import checked_metric
from monitoring_pipelines.stats.metrics.registry import MetricSpec
from monitoring_pipelines.stats.profile import ColumnProfile
from monitoring_pipelines.stats.scoring import NO_PARAMS, ScoringSettings, default_metrics


class Plan(NamedTuple):
    """Every (column, metric) result of a window with this baseline and settings, position by
    position in ``score_window``'s order, and how they are measured and judged."""

    names: tuple[str, ...]  # the baseline's columns
    column: list[str]  # each result's column
    metric: list[str]
    specs: list[MetricSpec]
    at: np.ndarray  # each result's column, as its index in ``names``
    by_rows: np.ndarray  # whether a result is sized by rows (missing_rate) or by values
    floor: list[float]  # the checked threshold (before any noise curve)
    reference_size: np.ndarray
    noise: list[tuple[int, NoiseCurve, ColumnProfile | None]]  # result, curve, training column
    groups: list[tuple[str, Mapping[str, Any], tuple, np.ndarray]]  # metric, params, key, results
    by_spec: list[tuple[MetricSpec, np.ndarray]]  # each metric's results, decided together
    tests: np.ndarray  # the results decided on a p-value
    by_values: np.ndarray  # whether a result is sized by values (what shift details need)


def plan_of(
    baseline: DatasetProfile,
    current: DatasetProfile,
    settings: ScoringSettings,
    plans: dict[tuple, Plan],
    shapes: dict[int, tuple],
) -> Plan:
    """The window's plan, taken from ``plans`` (kept across a batch) when a window with an
    equal baseline shape, the same settings and the same column kinds was planned; the
    window's columns checked first, as ``window_tasks`` does. ``shapes`` keeps each baseline
    object's :func:`_shape` for the batch."""
    missing = [name for name in baseline.columns if name not in current.columns]
    if missing:
        raise ValueError(f"the window has no profile for baseline column(s) {missing}")
    kinds = tuple(current.columns[name].kind for name in baseline.columns)
    shape = shapes.get(id(baseline))
    if shape is None:
        shape = shapes[id(baseline)] = _shape(baseline)
    shaping = (_identity(getattr(settings, name)) for name in SHAPING)
    key = (shape, kinds, *shaping, settings.sigmas)
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = _plan(baseline, kinds, settings)
    return plan


def _shape(baseline: DatasetProfile) -> tuple:
    """All a plan takes from its baseline: each column's name, kind and sizes (rows, values).
    Deployments trained on the same data (equal stored baselines, distinct objects) share it,
    so a fleet of them is planned once per distinct settings."""
    return tuple((name, c.kind, c.rows, c.count) for name, c in baseline.columns.items())


SHAPING = (
    "metrics",
    "prediction_columns",
    "thresholds",
    "column_thresholds",
    "params",
    "calibration",
    "calibrated_on",
)  # the settings a plan depends on (min_rows and correction apply per window)


def _identity(value: object) -> int | None:
    """A setting as part of a plan's key: the object itself (held by the batch's settings, so
    its id is stable), or None when unset or empty (every empty mapping plans alike)."""
    if value is None or (isinstance(value, Collection) and not value):
        return None
    return id(value)


def _plan(baseline: DatasetProfile, kinds: tuple, settings: ScoringSettings) -> Plan:
    metrics, params = settings.metrics, settings.params
    unknown = sorted(set(metrics) - set(baseline.columns))
    if unknown:
        raise ValueError(f"metrics configured for unknown column(s) {unknown}")
    calibration, column_thresholds = settings.calibration, settings.column_thresholds
    names = tuple(baseline.columns)
    column, metric, specs, at, floor, sizes, noise = [], [], [], [], [], [], []
    keys: dict[int, tuple] = {}
    grouped: dict[tuple[str, tuple], tuple[str, Mapping[str, Any], list[int]]] = {}
    for index, (name, reference) in enumerate(baseline.columns.items()):
        chosen = metrics.get(name) or default_metrics(
            reference.kind, name in settings.prediction_columns
        )
        own, curves = column_thresholds.get(name), calibration.get(name)
        for key in chosen:
            threshold = None if own is None else own.get(key)
            if threshold is None:
                threshold = settings.thresholds.get(key)
            given = params.get(key, NO_PARAMS)
            spec, threshold = checked_metric(
                key, reference.kind, kinds[index], threshold, tuple(given)
            )
            curve = None if curves is None else curves.get(key)
            if curve is not None and spec.decision == "distance":
                on = settings.calibrated_on
                noise.append((len(metric), curve, None if on is None else on.columns[name]))
            if id(given) not in keys:
                keys[id(given)] = tuple(sorted((k, repr(v)) for k, v in given.items()))
            grouped.setdefault((key, keys[id(given)]), (key, given, []))[2].append(len(metric))
            size = reference.rows if spec.sizes == "rows" else reference.count
            column.append(name)
            metric.append(key)
            specs.append(spec)
            at.append(index)
            floor.append(threshold)
            sizes.append(size)
    by_rows = np.array([spec.sizes == "rows" for spec in specs], dtype=bool)
    return Plan(
        names,
        column,
        metric,
        specs,
        np.array(at, dtype=np.intp),
        by_rows,
        floor,
        np.array(sizes, dtype=np.int64),
        noise,
        [(m, p, k, np.array(i, dtype=np.intp)) for (m, k), (_, p, i) in grouped.items()],
        _by_spec(specs),
        np.array([i for i, s in enumerate(specs) if s.decision == "p_value"], dtype=np.intp),
        ~by_rows,
    )


def _by_spec(specs: list[MetricSpec]) -> list[tuple[MetricSpec, np.ndarray]]:
    """The results of each spec, decided together."""
    grouped: dict[int, tuple[MetricSpec, list[int]]] = {}
    for i, spec in enumerate(specs):
        grouped.setdefault(id(spec), (spec, []))[1].append(i)
    return [(spec, np.array(results, dtype=np.intp)) for spec, results in grouped.values()]


class Sized(NamedTuple):
    """One window's sizes over its plan, and which results are measured."""

    current_size: np.ndarray
    scored: np.ndarray  # not insufficient_data


def sized(plan: Plan, current: DatasetProfile, min_rows: int) -> Sized:
    """The window's sizes per result (each column's taken once) and its insufficient mask."""
    columns = [current.columns[name] for name in plan.names]
    rows = np.array([c.rows for c in columns], dtype=np.int64)
    count = np.array([c.count for c in columns], dtype=np.int64)
    size = np.where(plan.by_rows, rows[plan.at], count[plan.at])
    scored = (plan.reference_size != 0) & (size >= max(min_rows, 1))
    return Sized(size, scored)
