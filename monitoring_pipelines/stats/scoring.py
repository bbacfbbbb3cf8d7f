"""Score every monitored column of one window: default metric sets by column type,
per-column overrides, the minimum window size, and the multiple-testing correction.

The defaults are effect sizes (distances), not tests: a test flags about 5 % of
clean windows by construction, and tiny harmless shifts once windows hold
millions of rows. ``ks`` and ``chi_squared`` are there for whoever configures
them, and ``correction`` keeps their family-wise (or false-discovery) rate per
window at the chosen level.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from monitoring_pipelines.stats.calibration import DEFAULT_SIGMAS, NoiseCurve
from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import ColumnTask, DriftResult, finish_column, plan_column
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.multiple_testing import check_correction, correct
from monitoring_pipelines.stats.profile import Kind

DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "numerical": ("psi", "wasserstein", "z_score", "missing_rate"),
    "categorical": ("psi", "tvd", "missing_rate"),
    "prediction": ("jensen_shannon", "psi"),
}
DEFAULT_MIN_ROWS = 500
DEFAULT_CORRECTION = "benjamini_hochberg"


def default_metrics(kind: Kind | str, is_prediction: bool = False) -> tuple[str, ...]:
    """The default metric keys for a column of this kind (or a prediction column)."""
    if is_prediction:
        return DEFAULT_METRICS["prediction"]
    try:
        return DEFAULT_METRICS[Kind(kind).value]
    except ValueError:
        valid = ", ".join(k.value for k in Kind)
        raise ValueError(f"unknown column kind {kind!r} (valid: {valid})") from None


def score_window(
    baseline: DatasetProfile,
    current: DatasetProfile,
    *,
    metrics: Mapping[str, Sequence[str]] | None = None,
    prediction_columns: Collection[str] = (),
    thresholds: Mapping[str, float] | None = None,
    column_thresholds: Mapping[str, Mapping[str, float]] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    correction: str = DEFAULT_CORRECTION,
    calibration: Mapping[str, Mapping[str, NoiseCurve]] | None = None,
    sigmas: float = DEFAULT_SIGMAS,
    calibrated_on: DatasetProfile | None = None,
) -> dict[str, tuple[DriftResult, ...]]:
    """Results per column (in the baseline's column order) for one production window.

    ``metrics`` overrides the default set of a column (column → metric keys);
    ``thresholds`` overrides a metric's default threshold (metric → threshold) and
    ``column_thresholds`` one column's (column → metric → threshold); ``params``
    passes metric parameters (metric → {name: value}), e.g. ``{"psi": {"epsilon": 1e-3}}``.
    ``calibration`` (column → metric → noise curve, learned with the baseline) raises a
    distance's threshold to its noise threshold at the window's size where that is larger.
    ``calibrated_on`` is the training baseline the curves were learned on, when ``baseline``
    is a production reference (their noise is then read at the two-sample effective size).
    """
    tasks = window_tasks(
        baseline,
        current,
        metrics=metrics,
        prediction_columns=prediction_columns,
        thresholds=thresholds,
        column_thresholds=column_thresholds,
        params=params,
        min_rows=min_rows,
        correction=correction,
        calibration=calibration,
        sigmas=sigmas,
        calibrated_on=calibrated_on,
    )
    memo: dict = {}
    flat = [
        (name, task if isinstance(task, DriftResult) else finish_column(task, measure(task), memo))
        for name, task in tasks
    ]
    return by_column(baseline, flat, correction)


def measure(task: ColumnTask) -> Measurement:
    """The task's metric computed on its two profiles alone."""
    return task.spec.function(task.baseline, task.current, **task.params)


def window_tasks(
    baseline: DatasetProfile,
    current: DatasetProfile,
    *,
    metrics: Mapping[str, Sequence[str]] | None = None,
    prediction_columns: Collection[str] = (),
    thresholds: Mapping[str, float] | None = None,
    column_thresholds: Mapping[str, Mapping[str, float]] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    correction: str = DEFAULT_CORRECTION,
    calibration: Mapping[str, Mapping[str, NoiseCurve]] | None = None,
    sigmas: float = DEFAULT_SIGMAS,
    calibrated_on: DatasetProfile | None = None,
) -> list[tuple[str, ColumnTask | DriftResult]]:
    """Every (column, metric) of a window as a checked task (or its insufficient-data
    result), in :func:`score_window`'s order and with its settings (same keywords)."""
    check_correction(correction)
    missing = [name for name in baseline.columns if name not in current.columns]
    if missing:
        raise ValueError(f"the window has no profile for baseline column(s) {missing}")
    unknown = sorted(set(metrics or {}) - set(baseline.columns))
    if unknown:
        raise ValueError(f"metrics configured for unknown column(s) {unknown}")
    tasks: list[tuple[str, ColumnTask | DriftResult]] = []
    for name, reference in baseline.columns.items():
        keys = (metrics or {}).get(name) or default_metrics(
            reference.kind, name in prediction_columns
        )
        for metric in keys:
            threshold = (column_thresholds or {}).get(name, {}).get(metric)
            if threshold is None:
                threshold = (thresholds or {}).get(metric)
            task = plan_column(
                metric,
                reference,
                current.columns[name],
                threshold=threshold,
                min_rows=min_rows,
                noise=(calibration or {}).get(name, {}).get(metric),
                sigmas=sigmas,
                calibrated_on=None if calibrated_on is None else calibrated_on.columns[name],
                params=(params or {}).get(metric, {}),
            )
            tasks.append((name, task))
    return tasks


def by_column(
    baseline: DatasetProfile, flat: Sequence[tuple[str, DriftResult]], correction: str
) -> dict[str, tuple[DriftResult, ...]]:
    """A window's results, corrected for multiple testing, grouped per column in the
    baseline's column order."""
    corrected = correct([r for _, r in flat], correction)
    grouped: dict[str, list[DriftResult]] = {name: [] for name in baseline.columns}
    for (name, _), result in zip(flat, corrected, strict=True):
        grouped[name].append(result)
    return {name: tuple(results) for name, results in grouped.items()}


def drifted_columns(scores: Mapping[str, Sequence[DriftResult]]) -> list[str]:
    """Columns with at least one drifted metric."""
    return [name for name, results in scores.items() if any(r.drifted for r in results)]
