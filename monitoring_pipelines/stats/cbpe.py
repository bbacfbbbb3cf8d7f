"""Confidence-based performance estimation (CBPE) of a binary classifier, from mergeable sums.

Name: CBPE (as in NannyML). With a calibrated probability p̂ of the positive class, a row
predicted positive is a true positive with probability p̂ and a false positive with 1 − p̂
(predicted negative: false negative p̂, true negative 1 − p̂), so the expected confusion
matrix of a window is a sum over its rows. An hour keeps, per predicted class and per bin of
the raw score (edges from the reference), the row count, Σp̂ and Σp̂²: counts add, so a day is
the merge of its hours, exactly. From them: expected accuracy, F1 (of the positive class)
and ROC AUC (rows of one bin tied). Sampling-error band: ±1.96 standard errors of the
realized metric around its expectation — accuracy from Σp̂(1 − p̂) (each row's correctness is
a Bernoulli draw), F1 by the delta method, ROC AUC by Hanley & McNeil (1982).
Assumption: no concept drift. The estimate holds while P(label | score) stays what the
reference showed; when the relationship between inputs and label changes, it is wrong, and
only realized performance can tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from monitoring_pipelines.stats.isotonic import Calibrator

Z = 1.96
DEFAULT_BINS = 100


@dataclass(frozen=True)
class CbpeReference:
    """What estimation needs from the labelled reference: the calibrator and score bin edges."""

    calibrator: Calibrator
    edges: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"calibrator": self.calibrator.to_json(), "edges": list(self.edges)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CbpeReference:
        return cls(Calibrator.from_json(data["calibrator"]), tuple(data["edges"]))


def score_edges(scores: Any, bins: int = DEFAULT_BINS) -> tuple[float, ...]:
    """Inner quantile edges of the reference scores (outer bins are open-ended)."""
    inner = np.unique(np.quantile(np.asarray(scores, dtype=float), np.linspace(0, 1, bins + 1)))
    return tuple(inner[1:-1].tolist())


@dataclass(frozen=True)
class CbpeAggregate:
    """Per predicted class (0 negative, 1 positive) and score bin: rows, Σp̂, Σp̂²."""

    edges: tuple[float, ...]
    counts: np.ndarray
    sum_p: np.ndarray
    sum_p2: np.ndarray

    @classmethod
    def empty(cls, edges: tuple[float, ...]) -> CbpeAggregate:
        shape = (2, len(edges) + 1)
        return cls(edges, np.zeros(shape), np.zeros(shape), np.zeros(shape))

    @classmethod
    def of(cls, reference: CbpeReference, scores: Any, predicted_positive: Any) -> CbpeAggregate:
        """The sums of one chunk of rows (raw scores and whether each was predicted positive)."""
        scores = np.asarray(scores, dtype=float)
        row = np.asarray(predicted_positive, dtype=bool).astype(int)
        column = np.searchsorted(np.asarray(reference.edges), scores, side="right")
        p = reference.calibrator(scores)
        shape = (2, len(reference.edges) + 1)
        flat = np.ravel_multi_index((row, column), shape)
        size = shape[0] * shape[1]

        def total(weights: np.ndarray | None) -> np.ndarray:
            return np.bincount(flat, weights=weights, minlength=size).reshape(shape).astype(float)

        return cls(reference.edges, total(None), total(p), total(p * p))

    def merge(self, other: CbpeAggregate) -> CbpeAggregate:
        if self.edges != other.edges:
            raise ValueError("CBPE aggregates with different score bins cannot merge")
        return CbpeAggregate(
            self.edges,
            self.counts + other.counts,
            self.sum_p + other.sum_p,
            self.sum_p2 + other.sum_p2,
        )

    @property
    def rows(self) -> int:
        return round(float(self.counts.sum()))

    def to_json(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "counts": self.counts.tolist(),
            "sum_p": self.sum_p.tolist(),
            "sum_p2": self.sum_p2.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CbpeAggregate:
        return cls(
            tuple(data["edges"]),
            np.asarray(data["counts"], dtype=float),
            np.asarray(data["sum_p"], dtype=float),
            np.asarray(data["sum_p2"], dtype=float),
        )


@dataclass(frozen=True)
class Estimate:
    """An estimated metric, its standard error and its band (clipped to [0, 1])."""

    value: float
    se: float

    @property
    def lower(self) -> float:
        return max(0.0, self.value - Z * self.se)

    @property
    def upper(self) -> float:
        return min(1.0, self.value + Z * self.se)

    def to_json(self) -> dict[str, float]:
        return {"se": self.se, "lower": self.lower, "upper": self.upper}


def estimate(aggregate: CbpeAggregate) -> dict[str, Estimate]:
    """Expected accuracy, F1 and ROC AUC with standard errors (a metric is left out when it is
    undefined: no rows, or no expected positives or negatives)."""
    n = aggregate.counts.sum()
    if n == 0:
        return {}
    variance = aggregate.sum_p - aggregate.sum_p2  # Σ p̂(1 − p̂) per cell
    predicted = aggregate.counts.sum(axis=1)
    tp, fn = aggregate.sum_p[1].sum(), aggregate.sum_p[0].sum()
    tn = predicted[0] - fn
    out = {"accuracy": Estimate(float((tp + tn) / n), float(np.sqrt(variance.sum()) / n))}
    denominator = predicted[1] + tp + fn
    if denominator > 0:
        d_tp, d_fn = 2 * (predicted[1] + fn) / denominator**2, -2 * tp / denominator**2
        se = np.sqrt(d_tp**2 * variance[1].sum() + d_fn**2 * variance[0].sum())
        out["f1"] = Estimate(float(2 * tp / denominator), float(se))
    positives = aggregate.sum_p.sum(axis=0)  # per score bin, ascending
    negatives = aggregate.counts.sum(axis=0) - positives
    p_total, n_total = positives.sum(), negatives.sum()
    if p_total > 0 and n_total > 0:
        above = np.cumsum(positives[::-1])[::-1] - positives  # positives in higher bins
        auc = float((negatives * (above + 0.5 * positives)).sum() / (p_total * n_total))
        q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
        var = auc * (1 - auc) + (p_total - 1) * (q1 - auc**2) + (n_total - 1) * (q2 - auc**2)
        out["roc_auc"] = Estimate(auc, float(np.sqrt(max(var, 0.0) / (p_total * n_total))))
    return out


def row_sd(aggregate: CbpeAggregate) -> float:
    """The standard deviation of one row's correctness, √(mean p̂(1 − p̂)): the accuracy band
    for ``m`` labelled rows of the window is ±1.96 · row_sd / √m."""
    n = aggregate.counts.sum()
    return float(np.sqrt((aggregate.sum_p - aggregate.sum_p2).sum() / n)) if n else 0.0
