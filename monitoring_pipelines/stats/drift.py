"""Drift results: a metric's value judged against a threshold, with the sample sizes behind it.

``decide`` is the one place where drift is decided: distances drift when
value ≥ threshold, tests when p-value < threshold. ``score_column`` compares two
column profiles; ``score`` compares two raw samples (for notebooks).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.binning import DEFAULT_BINS
from monitoring_pipelines.stats.calibration import DEFAULT_SIGMAS, NoiseCurve, effective_size
from monitoring_pipelines.stats.category_shift import category_shifts, value_shifts
from monitoring_pipelines.stats.dataset import reference_categories
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.metrics.registry import MetricSpec, get_spec
from monitoring_pipelines.stats.profile import (
    DEFAULT_MAX_CATEGORIES,
    CategoricalProfile,
    ColumnProfile,
    Kind,
    NumericalProfile,
    fit_categorical,
    fit_numerical,
    profile_categorical,
    to_float,
)

INSUFFICIENT_DATA = "insufficient_data"
UNDEFINED = "undefined"
MAX_LISTED = 10  # new values listed in a result's detail


@dataclass(frozen=True)
class DriftResult:
    """One metric on one column for one window, with the threshold actually applied."""

    metric: str
    value: float | None
    p_value: float | None
    threshold: float
    status: str
    drifted: bool
    reference_size: int
    current_size: int
    detail: Mapping[str, Any] = field(default_factory=dict)


def decide(
    spec: MetricSpec, value: float | None, p_value: float | None, threshold: float
) -> tuple[str, bool]:
    """Status band and drift flag for a measurement: the single drift comparison."""
    if spec.decision == "p_value":
        if p_value is None or math.isnan(p_value):
            return UNDEFINED, False
        status = next(name for bound, name in spec.bands if p_value >= bound)
        return status, p_value < threshold
    if value is None or math.isnan(value):
        return UNDEFINED, False
    status = next(name for bound, name in spec.bands if value < bound)
    return status, value >= threshold


def decide_many(
    spec: MetricSpec,
    values: Sequence[float | None],
    p_values: Sequence[float | None],
    thresholds: Sequence[float],
) -> tuple[list[str], list[bool]]:
    """:func:`decide` of many measurements of one metric: a distance's bands and flags in one
    array operation (the first band whose bound exceeds the value), a test's one by one."""
    if spec.decision == "p_value":
        decided = list(map(decide, repeat(spec), values, p_values, thresholds))
        return [status for status, _ in decided], [drifted for _, drifted in decided]
    bounds, names = _bands(spec.bands)
    v = np.array(values, dtype=np.float64)  # None as NaN: undefined, as decide says
    band = np.searchsorted(bounds, v, side="right")
    defined = ~np.isnan(v)
    beyond = np.flatnonzero(defined & (band == bounds.size))
    if beyond.size:  # above every band (an infinite value): decide's own error
        i = int(beyond[0])
        decide(spec, values[i], p_values[i], thresholds[i])
    status = np.where(defined, names[np.minimum(band, bounds.size - 1)], UNDEFINED)
    drifted = defined & (v >= np.array(thresholds, dtype=np.float64))
    return status.tolist(), drifted.tolist()


@cache
def _bands(bands: tuple[tuple[float, str], ...]) -> tuple[np.ndarray, np.ndarray]:
    """A distance's band bounds (ascending) and names as arrays."""
    bounds = np.array([bound for bound, _ in bands], dtype=np.float64)
    return bounds, np.array([name for _, name in bands], dtype=object)


def score_column(
    metric: str,
    baseline: ColumnProfile,
    current: ColumnProfile,
    *,
    threshold: float | None = None,
    min_rows: int = 1,
    noise: NoiseCurve | None = None,
    sigmas: float = DEFAULT_SIGMAS,
    calibrated_on: ColumnProfile | None = None,
    **params: Any,
) -> DriftResult:
    """Score one production column profile against its baseline profile.

    Fewer than ``min_rows`` production values (rows, for ``missing_rate``) or an
    empty baseline give status ``insufficient_data`` and no value. With a ``noise`` curve
    (a distance's calibration, ``stats.calibration``) the threshold applied is the larger
    of ``threshold`` (the effect-size floor) and the noise threshold at the window's size;
    ``calibrated_on`` (the training column the curve was learned on, when ``baseline`` is a
    production reference) reads the curve at the two-sample effective size instead.
    """
    task = plan_column(
        metric,
        baseline,
        current,
        threshold=threshold,
        min_rows=min_rows,
        noise=noise,
        sigmas=sigmas,
        calibrated_on=calibrated_on,
        params=params,
    )
    if isinstance(task, DriftResult):
        return task
    return finish_column(task, task.spec.function(baseline, current, **params))


class ColumnTask(NamedTuple):
    """One metric on one column, checked and sized, waiting for its measurement: what
    :func:`score_column` decides before measuring (shared with ``stats.batch_scoring``; a
    tuple, since a batch plans one per result and a frozen dataclass costs 2 µs to build)."""

    metric: str
    spec: MetricSpec
    baseline: ColumnProfile
    current: ColumnProfile
    threshold: float
    floor: float
    noise_threshold: float | None
    noise_size: float | None
    sizes: tuple[int, int]
    params: Mapping[str, Any]


def plan_column(
    metric: str,
    baseline: ColumnProfile,
    current: ColumnProfile,
    *,
    threshold: float | None,
    min_rows: int,
    noise: NoiseCurve | None,
    sigmas: float,
    calibrated_on: ColumnProfile | None,
    params: Mapping[str, Any],
    sizes_of: Mapping[str, tuple[int, int]] | None = None,
) -> ColumnTask | DriftResult:
    """The checked task of one metric on one column, or its ``insufficient_data`` result.
    ``sizes_of`` ("rows" and "values" → (baseline, current)) are the two profiles' sizes when
    the caller has them already (a window's metrics share them)."""
    spec, threshold = checked_metric(metric, baseline.kind, current.kind, threshold, tuple(params))
    if sizes_of is not None:
        sizes = sizes_of[spec.sizes]
    elif spec.sizes == "rows":
        sizes = (baseline.rows, current.rows)
    else:
        sizes = (baseline.count, current.count)
    if sizes[0] == 0 or sizes[1] < max(min_rows, 1):
        return insufficient(metric, threshold, *sizes, min_rows)
    noise_threshold = at = None
    if noise is not None and spec.decision == "distance":
        at = noise_size(spec, sizes, calibrated_on)
        noise_threshold = noise.threshold(at, sigmas)
    applied = threshold if noise_threshold is None else max(threshold, noise_threshold)
    return ColumnTask(
        metric,
        spec,
        baseline,
        current,
        applied,
        threshold,
        noise_threshold,
        None if calibrated_on is None else at,
        sizes,
        params,
    )


@lru_cache(maxsize=4096)
def checked_metric(
    metric: str, baseline: Kind, current: Kind, threshold: float | None, params: tuple[str, ...]
) -> tuple[MetricSpec, float]:
    """The spec and the checked threshold of a metric on columns of these kinds with these
    parameter names: the same for every window of a deployment, so checked once."""
    spec = get_spec(metric)
    _check_kinds(metric, spec, baseline, current)
    threshold = _check_threshold(metric, spec, threshold)
    _check_params(metric, spec, dict.fromkeys(params))
    return spec, threshold


def finish_column(
    task: ColumnTask, measurement: Measurement, memo: dict | None = None
) -> DriftResult:
    """The result of a task from its measurement: judged, with the detail an alert shows.
    ``memo`` (a dict kept across the tasks of a window or a batch) computes that detail, which
    depends on the two profiles only, once per pair of profiles instead of once per metric."""
    spec, baseline, current = task.spec, task.baseline, task.current
    status, drifted = decide(spec, measurement.value, measurement.p_value, task.threshold)
    detail = measurement.detail
    extra: dict[str, Any] = {}
    if task.noise_threshold is not None:
        extra["threshold_floor"] = task.floor
        extra["noise_threshold"] = task.noise_threshold
        if task.noise_size is not None:
            extra["noise_size"] = task.noise_size
    extra |= new_values_detail(current, memo)
    if drifted and spec.sizes == "values":  # what an alert shows to explain it
        shifts = shift_detail(baseline, current, memo)
        if shifts is not None:
            extra["categories"] = shifts
    return DriftResult(
        metric=task.metric,
        value=measurement.value,
        p_value=measurement.p_value,
        threshold=task.threshold,
        status=status,
        drifted=drifted,
        reference_size=int(task.sizes[0]),
        current_size=int(task.sizes[1]),
        detail={**detail, **extra} if extra else detail,
    )


def new_values_detail(current: ColumnProfile, memo: dict | None = None) -> dict[str, Any]:
    """A discrete window column's values the baseline never had (``new_values``, listed up to
    :data:`MAX_LISTED`, and ``new_value_count``); empty for any other column."""
    if isinstance(current, NumericalProfile) and current.values is not None:
        return _remembered(memo, ("new", id(current)), lambda: _new_values(current))
    return {}


def shift_detail(
    baseline: ColumnProfile, current: ColumnProfile, memo: dict | None = None
) -> list[dict[str, Any]] | None:
    """The top category (or discrete value) shifts a drifted count metric's alert shows; None
    for a continuous column."""
    key = ("shifts", id(baseline), id(current))
    if isinstance(baseline, CategoricalProfile):
        return _remembered(memo, key, lambda: category_shifts(baseline, current))
    if baseline.discrete and current.discrete:
        return _remembered(memo, key, lambda: value_shifts(baseline, current))
    return None


def _new_values(current: NumericalProfile) -> dict[str, Any]:
    new = current.new_values
    if not new:
        return {}
    return {"new_values": new[:MAX_LISTED], "new_value_count": sum(current.values[v] for v in new)}


def _remembered(memo: dict | None, key: tuple, compute: Callable[[], Any]) -> Any:
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def noise_size(
    spec: MetricSpec, sizes: tuple[int, int], calibrated_on: ColumnProfile | None
) -> float:
    """The window size the noise curve is read at: the window's, or against a production
    reference the two-sample effective size (the curve's reference was half the training's)."""
    if calibrated_on is None:
        return sizes[1]
    training = calibrated_on.rows if spec.sizes == "rows" else calibrated_on.count
    return effective_size(sizes[1], sizes[0], training / 2)


def score(
    metric: str,
    reference: np.ndarray | pd.Series | list,
    current: np.ndarray | pd.Series | list,
    *,
    kind: Kind | str | None = None,
    threshold: float | None = None,
    min_rows: int = 1,
    n_bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    **params: Any,
) -> DriftResult:
    """Score two raw samples. ``ks`` and ``wasserstein`` are exact on numerical samples;
    other metrics use the pipeline's binning of the reference (``n_bins`` quantile bins)
    or the category counts. ``kind`` defaults to numerical for numeric, non-boolean data.
    """
    spec = get_spec(metric)
    reference, current = pd.Series(reference), pd.Series(current)
    kind = _kind_of(reference) if kind is None else _check_kind(kind)
    if kind is Kind.NUMERICAL:
        baseline = fit_numerical(reference, n_bins, max_categories)
        window = baseline.like(current)
    else:
        baseline = fit_categorical(reference, max_categories)
        window = profile_categorical(current, reference_categories(baseline), max_categories)
    if spec.raw is None or kind is not Kind.NUMERICAL:
        return score_column(
            metric, baseline, window, threshold=threshold, min_rows=min_rows, **params
        )
    _check_kinds(metric, spec, kind, kind)
    threshold = _check_threshold(metric, spec, threshold)
    _check_params(metric, spec, params, spec.raw)
    sizes = (baseline.count, window.count)
    if sizes[0] == 0 or sizes[1] < max(min_rows, 1):
        return insufficient(metric, threshold, *sizes, min_rows)
    ref_values, cur_values = to_float(reference)[0], to_float(current)[0]
    measurement = spec.raw(
        ref_values[~np.isnan(ref_values)], cur_values[~np.isnan(cur_values)], **params
    )
    return judged(metric, spec, measurement, threshold, *sizes)


def judged(
    metric: str,
    spec: MetricSpec,
    measurement: Measurement,
    threshold: float,
    reference_size: int,
    current_size: int,
) -> DriftResult:
    """A measurement turned into a result by :func:`decide`."""
    status, drifted = decide(spec, measurement.value, measurement.p_value, threshold)
    return DriftResult(
        metric=metric,
        value=measurement.value,
        p_value=measurement.p_value,
        threshold=threshold,
        status=status,
        drifted=drifted,
        reference_size=int(reference_size),
        current_size=int(current_size),
        detail=measurement.detail,
    )


def insufficient(
    metric: str, threshold: float, reference_size: int, current_size: int, min_rows: int
) -> DriftResult:
    """The result of a window too small (or a baseline empty) to score."""
    return DriftResult(
        metric=metric,
        value=None,
        p_value=None,
        threshold=threshold,
        status=INSUFFICIENT_DATA,
        drifted=False,
        reference_size=int(reference_size),
        current_size=int(current_size),
        detail={"min_rows": int(min_rows)},
    )


def _kind_of(values: pd.Series) -> Kind:
    dtype = values.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    return Kind.NUMERICAL if numeric else Kind.CATEGORICAL


def _check_kind(kind: Kind | str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        valid = ", ".join(k.value for k in Kind)
        raise ValueError(f"unknown column kind {kind!r} (valid: {valid})") from None


def _check_kinds(metric: str, spec: MetricSpec, baseline: Kind, current: Kind) -> None:
    if baseline is not current:
        raise ValueError(
            f"{metric}: baseline is {baseline.value} but the window is {current.value}"
        )
    if baseline not in spec.kinds:
        valid = ", ".join(k.value for k in spec.kinds)
        raise ValueError(f"{metric} does not apply to {baseline.value} columns (only: {valid})")


def _check_threshold(metric: str, spec: MetricSpec, threshold: float | None) -> float:
    if threshold is None:
        return spec.threshold
    threshold = float(threshold)
    if spec.decision == "p_value" and not 0.0 < threshold <= 1.0:
        raise ValueError(f"{metric}: threshold is a significance level in (0, 1], got {threshold}")
    if not math.isfinite(threshold) or threshold < spec.bounds[0]:
        raise ValueError(
            f"{metric}: threshold must be a finite number ≥ {spec.bounds[0]}, got {threshold}"
        )
    return threshold


def _check_params(metric: str, spec: MetricSpec, params: Mapping[str, Any], function=None) -> None:
    if not params:
        return
    valid = _keyword_params(function or spec.function)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        choices = ", ".join(valid) or "none"
        raise ValueError(f"{metric}: unknown parameter(s) {unknown} (valid: {choices})")


@cache
def _keyword_params(function) -> tuple[str, ...]:
    parameters = inspect.signature(function).parameters.values()
    return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)
