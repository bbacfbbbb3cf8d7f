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
from dataclasses import dataclass, field, replace
from types import MappingProxyType
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
NO_PARAMS: Mapping[str, Any] = MappingProxyType({})  # a metric's parameters when none are set


def default_metrics(kind: Kind | str, is_prediction: bool = False) -> tuple[str, ...]:
    """The default metric keys for a column of this kind (or a prediction column)."""
    if is_prediction:
        return DEFAULT_METRICS["prediction"]
    try:
        return DEFAULT_METRICS[Kind(kind).value]
    except ValueError:
        valid = ", ".join(k.value for k in Kind)
        raise ValueError(f"unknown column kind {kind!r} (valid: {valid})") from None


@dataclass(frozen=True, eq=False)
class ScoringSettings:
    """How the columns of a window are scored (``score_window``, ``window_tasks`` and the batch
    scoring of ``stats.batch_scoring`` take the same settings).

    ``metrics`` overrides the default set of a column (column → metric keys);
    ``prediction_columns`` are scored with the prediction set; ``thresholds`` overrides a
    metric's default threshold (metric → threshold) and ``column_thresholds`` one column's
    (column → metric → threshold); ``params`` passes metric parameters (metric → {name: value}),
    e.g. ``{"psi": {"epsilon": 1e-3}}``; a window with fewer than ``min_rows`` values (rows, for
    ``missing_rate``) is ``insufficient_data``; ``correction`` adjusts the window's p-values
    (``stats.multiple_testing``). ``calibration`` (column → metric → noise curve, learned with
    the baseline) raises a distance's threshold to its noise threshold (``sigmas`` standard
    deviations above the noise) at the window's size where that is larger. ``calibrated_on``
    is the training baseline the curves were learned on, when the baseline scored against is a
    production reference (their noise is then read at the two-sample effective size).
    """

    metrics: Mapping[str, Sequence[str]] = field(default_factory=dict)
    prediction_columns: Collection[str] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)
    column_thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    min_rows: int = DEFAULT_MIN_ROWS
    correction: str = DEFAULT_CORRECTION
    calibration: Mapping[str, Mapping[str, NoiseCurve]] | None = None
    sigmas: float = DEFAULT_SIGMAS
    calibrated_on: DatasetProfile | None = None

    def __post_init__(self) -> None:
        for name in ("metrics", "thresholds", "column_thresholds", "params", "calibration"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, {})
        if self.prediction_columns is None:
            object.__setattr__(self, "prediction_columns", ())
        check_correction(self.correction)

    @classmethod
    def of(
        cls, settings: ScoringSettings | Mapping[str, Any] | None = None, **changes: Any
    ) -> ScoringSettings:
        """``settings`` (or the fields of a mapping, or the defaults) with ``changes``."""
        if settings is None or isinstance(settings, Mapping):
            return cls(**{**(settings or {}), **changes})
        if not isinstance(settings, ScoringSettings):
            raise TypeError(f"settings must be ScoringSettings or a mapping, got {settings!r}")
        return replace(settings, **changes) if changes else settings


def score_window(
    baseline: DatasetProfile,
    current: DatasetProfile,
    settings: ScoringSettings | None = None,
    /,
    **changes: Any,
) -> dict[str, tuple[DriftResult, ...]]:
    """Results per column (in the baseline's column order) for one production window, scored
    with ``settings`` (default :class:`ScoringSettings`) and the ``changes`` to its fields
    given as keywords (``score_window(b, w, min_rows=100)``)."""
    settings = ScoringSettings.of(settings, **changes)
    tasks = window_tasks(baseline, current, settings)
    memo: dict = {}
    flat = [
        (name, task if isinstance(task, DriftResult) else finish_column(task, measure(task), memo))
        for name, task in tasks
    ]
    return by_column(baseline, flat, settings.correction)


def measure(task: ColumnTask) -> Measurement:
    """The task's metric computed on its two profiles alone."""
    return task.spec.function(task.baseline, task.current, **task.params)


def window_tasks(
    baseline: DatasetProfile, current: DatasetProfile, settings: ScoringSettings
) -> list[tuple[str, ColumnTask | DriftResult]]:
    """Every (column, metric) of a window as a checked task (or its insufficient-data
    result), in :func:`score_window`'s order and with its ``settings``."""
    missing = [name for name in baseline.columns if name not in current.columns]
    if missing:
        raise ValueError(f"the window has no profile for baseline column(s) {missing}")
    metrics = settings.metrics
    unknown = sorted(set(metrics) - set(baseline.columns))
    if unknown:
        raise ValueError(f"metrics configured for unknown column(s) {unknown}")
    calibration, column_thresholds = settings.calibration, settings.column_thresholds
    calibrated_on = settings.calibrated_on
    thresholds, params = settings.thresholds, settings.params
    tasks: list[tuple[str, ColumnTask | DriftResult]] = []
    for name, reference in baseline.columns.items():
        keys = metrics.get(name) or default_metrics(
            reference.kind, name in settings.prediction_columns
        )
        window, own, noise = (
            current.columns[name],
            column_thresholds.get(name),
            calibration.get(name),
        )
        training = None if calibrated_on is None else calibrated_on.columns[name]
        # once per column, not per metric: a categorical count sums every category
        sizes = {
            "values": (reference.count, window.count),
            "rows": (reference.rows, window.rows),
        }
        for metric in keys:
            threshold = None if own is None else own.get(metric)
            if threshold is None:
                threshold = thresholds.get(metric)
            task = plan_column(
                metric,
                reference,
                window,
                threshold=threshold,
                min_rows=settings.min_rows,
                noise=None if noise is None else noise.get(metric),
                sigmas=settings.sigmas,
                calibrated_on=training,
                params=params.get(metric, NO_PARAMS),
                sizes_of=sizes,
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
