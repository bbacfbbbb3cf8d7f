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
from monitoring_pipelines.stats.drift import DriftResult, score_column
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
    check_correction(correction)
    missing = [name for name in baseline.columns if name not in current.columns]
    if missing:
        raise ValueError(f"the window has no profile for baseline column(s) {missing}")
    unknown = sorted(set(metrics or {}) - set(baseline.columns))
    if unknown:
        raise ValueError(f"metrics configured for unknown column(s) {unknown}")
    flat: list[tuple[str, DriftResult]] = []
    for name, reference in baseline.columns.items():
        keys = (metrics or {}).get(name) or default_metrics(
            reference.kind, name in prediction_columns
        )
        for metric in keys:
            threshold = (column_thresholds or {}).get(name, {}).get(metric)
            if threshold is None:
                threshold = (thresholds or {}).get(metric)
            result = score_column(
                metric,
                reference,
                current.columns[name],
                threshold=threshold,
                min_rows=min_rows,
                noise=(calibration or {}).get(name, {}).get(metric),
                sigmas=sigmas,
                calibrated_on=None if calibrated_on is None else calibrated_on.columns[name],
                **(params or {}).get(metric, {}),
            )
            flat.append((name, result))
    corrected = correct([r for _, r in flat], correction)
    by_column: dict[str, list[DriftResult]] = {name: [] for name in baseline.columns}
    for (name, _), result in zip(flat, corrected, strict=True):
        by_column[name].append(result)
    return {name: tuple(results) for name, results in by_column.items()}


def drifted_columns(scores: Mapping[str, Sequence[DriftResult]]) -> list[str]:
    """Columns with at least one drifted metric."""
    return [name for name, results in scores.items() if any(r.drifted for r in results)]
