"""Isotonic calibration of a binary score, and the calibration error that decides whether to use it.

Name: isotonic regression (pool adjacent violators), as scikit-learn's ``IsotonicRegression``
with ``out_of_bounds="clip"``: ties share their weighted mean label, the fitted values are
non-decreasing in the score, kept at the ends of each flat run, and a new score is mapped by
linear interpolation between them (clipped at the ends). Calibration error: expected
calibration error (ECE) over equal-count score bins, Σ_b (n_b / n) · |mean(y_b) − mean(p_b)|;
0 is perfectly calibrated. :func:`fit_calibrator` keeps the isotonic map only when it lowers
the ECE on held-out halves of the reference (2-fold cross-fitting), else the identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ECE_BINS = 10
IDENTITY = "identity"
ISOTONIC = "isotonic"


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from the raw score to P(positive): knots and values (identity: none)."""

    method: str = IDENTITY
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    raw_ece: float | None = None
    calibrated_ece: float | None = None

    def __call__(self, scores: Any) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        if self.method == IDENTITY:
            return np.clip(scores, 0.0, 1.0)
        return np.interp(scores, self.x, self.y)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "raw_ece": self.raw_ece,
            "calibrated_ece": self.calibrated_ece,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrator:
        return cls(
            data["method"],
            tuple(data["x"]),
            tuple(data["y"]),
            data.get("raw_ece"),
            data.get("calibrated_ece"),
        )


def isotonic(scores: Any, labels: Any) -> Calibrator:
    """The isotonic fit of ``labels`` (0/1) on ``scores`` (pool adjacent violators)."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    if x.size == 0:
        raise ValueError("isotonic calibration needs at least one labelled score")
    unique, inverse = np.unique(x, return_inverse=True)
    weight = np.bincount(inverse).astype(float)
    mean = np.bincount(inverse, weights=y) / weight
    values, weights, sizes = [], [], []
    for m, w in zip(mean, weight, strict=True):
        values.append(m)
        weights.append(w)
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            w_total = weights[-2] + weights[-1]
            pooled = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w_total
            size = sizes[-2] + sizes[-1]
            del values[-1], weights[-1], sizes[-1]
            values[-1], weights[-1], sizes[-1] = pooled, w_total, size
    fitted = np.repeat(values, sizes)
    keep = np.ones(fitted.size, dtype=bool)  # drop the inside of flat runs, as sklearn does
    if fitted.size > 2:
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibrator(ISOTONIC, tuple(unique[keep].tolist()), tuple(fitted[keep].tolist()))


def calibration_error(probabilities: Any, labels: Any, bins: int = ECE_BINS) -> float:
    """Expected calibration error over ``bins`` equal-count bins of the probability."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=float)
    order = np.argsort(p, kind="stable")
    error = 0.0
    for part in np.array_split(order, min(bins, p.size)):
        error += part.size * abs(y[part].mean() - p[part].mean())
    return float(error / p.size)


def fit_calibrator(scores: Any, labels: Any, rng: np.random.Generator) -> Calibrator:
    """The isotonic map when it lowers the held-out ECE (2-fold, split by ``rng``), else the
    identity; either way fitted on all rows and carrying both errors."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    folds = np.array_split(rng.permutation(x.size), 2)
    raw, calibrated = [], []
    for held, fit in ((folds[0], folds[1]), (folds[1], folds[0])):
        raw.append(calibration_error(x[held], y[held]))
        calibrated.append(calibration_error(isotonic(x[fit], y[fit])(x[held]), y[held]))
    raw_ece, calibrated_ece = float(np.mean(raw)), float(np.mean(calibrated))
    if calibrated_ece < raw_ece:
        fitted = isotonic(x, y)
        return Calibrator(ISOTONIC, fitted.x, fitted.y, raw_ece, calibrated_ece)
    return Calibrator(IDENTITY, raw_ece=raw_ece, calibrated_ece=calibrated_ece)
