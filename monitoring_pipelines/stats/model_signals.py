"""Model signals computed from stored profiles: prediction-distribution drift, mean
confidence and its drop from the baseline, and the share of low-confidence predictions.

The low-confidence share comes from the confidence histogram: bins below the
threshold count fully and the bin holding it counts in proportion to the part of
its width below it (values taken as evenly spread; the open outer bins span to the
profile's min / max). It is exact when the threshold is a bin edge — fitting the
baseline with the threshold added to the confidence column's edges makes it so —
and otherwise off by at most the share of that one bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitoring_pipelines.stats.drift import DriftResult, score_column
from monitoring_pipelines.stats.profile import ColumnProfile, NumericalProfile

DEFAULT_LOW_CONFIDENCE = 0.5
PREDICTION_METRIC = "jensen_shannon"


@dataclass(frozen=True)
class ModelSignals:
    """Prediction drift and confidence numbers of one window (None where there is no data)."""

    prediction_drift: DriftResult | None
    mean_confidence: float | None
    baseline_mean_confidence: float | None
    confidence_drop: float | None
    low_confidence_share: float | None
    baseline_low_confidence_share: float | None
    low_confidence_threshold: float


def prediction_drift(
    baseline: ColumnProfile,
    current: ColumnProfile,
    *,
    min_rows: int = 1,
    threshold: float | None = None,
) -> DriftResult:
    """Jensen–Shannon distance of the predicted classes (categorical) or binned scores."""
    return score_column(
        PREDICTION_METRIC, baseline, current, threshold=threshold, min_rows=min_rows
    )


def mean_confidence(profile: NumericalProfile) -> float | None:
    """Mean of the finite confidence values; None when there are none."""
    return float(profile.mean) if profile.n_finite else None


def low_confidence_share(
    profile: NumericalProfile, threshold: float = DEFAULT_LOW_CONFIDENCE
) -> float | None:
    """Share of confidence values below ``threshold``, from the histogram; None when empty."""
    total = profile.counts.sum()
    if total == 0:
        return None
    x = profile.edges.copy()
    x[0] = np.fmin(profile.min, x[1]) if x.size > 2 else profile.min
    x[-1] = np.fmax(profile.max, x[-2]) if x.size > 2 else profile.max
    width = np.diff(x)
    below = np.clip(threshold - x[:-1], 0.0, None)
    fraction = np.where(
        width > 0, np.minimum(below / np.where(width > 0, width, 1.0), 1.0), below > 0
    )
    fraction = np.nan_to_num(fraction, nan=0.0)
    return float(np.dot(fraction, profile.counts) / total)


def model_signals(
    baseline_prediction: ColumnProfile | None,
    current_prediction: ColumnProfile | None,
    baseline_confidence: NumericalProfile | None,
    current_confidence: NumericalProfile | None,
    *,
    low_confidence_threshold: float = DEFAULT_LOW_CONFIDENCE,
    min_rows: int = 1,
) -> ModelSignals:
    """Every model signal available from the prediction and confidence columns given."""
    drift = None
    if baseline_prediction is not None and current_prediction is not None:
        drift = prediction_drift(baseline_prediction, current_prediction, min_rows=min_rows)
    mean = base_mean = share = base_share = None
    if baseline_confidence is not None and current_confidence is not None:
        mean, base_mean = mean_confidence(current_confidence), mean_confidence(baseline_confidence)
        share = low_confidence_share(current_confidence, low_confidence_threshold)
        base_share = low_confidence_share(baseline_confidence, low_confidence_threshold)
    drop = base_mean - mean if mean is not None and base_mean is not None else None
    return ModelSignals(
        prediction_drift=drift,
        mean_confidence=mean,
        baseline_mean_confidence=base_mean,
        confidence_drop=drop,
        low_confidence_share=share,
        baseline_low_confidence_share=base_share,
        low_confidence_threshold=low_confidence_threshold,
    )
