"""CBPE and its isotonic calibration: the isotonic map equals scikit-learn's; on a calibrated
synthetic model without concept drift the estimated accuracy is within its band of the
realized one in at least 90 % of hours (F1 too); isotonic is used only where it lowers the
calibration error; under injected concept drift the gap is visible; hours merge exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.isotonic import IsotonicRegression

from monitoring_pipelines.stats.cbpe import (
    CbpeAggregate,
    CbpeReference,
    estimate,
    row_sd,
    score_edges,
)
from monitoring_pipelines.stats.isotonic import (
    IDENTITY,
    ISOTONIC,
    calibration_error,
    fit_calibrator,
    isotonic,
)

HOURS, ROWS = 200, 800


def world(rng, n, distort=lambda p: p):
    """True probabilities, the model's (possibly distorted) score, labels drawn from the truth."""
    truth = rng.beta(2.0, 2.5, n)
    return distort(truth), (rng.uniform(size=n) < truth).astype(int)


def reference_for(rng, distort=lambda p: p) -> CbpeReference:
    scores, labels = world(rng, 20_000, distort)
    return CbpeReference(fit_calibrator(scores, labels, rng), score_edges(scores))


def hours(rng, reference, distort=lambda p: p, relabel=None):
    """Per hour: the CBPE estimate and the realized accuracy/F1/AUC on all rows."""
    out = []
    for _ in range(HOURS):
        scores, labels = world(rng, ROWS, distort)
        if relabel is not None:
            labels = relabel(rng, scores, labels)
        predicted = scores >= 0.5  # the model's own decision
        est = estimate(CbpeAggregate.of(reference, scores, predicted))
        realized = {
            "accuracy": sk.accuracy_score(labels, predicted),
            "f1": sk.f1_score(labels, predicted),
            "roc_auc": sk.roc_auc_score(labels, scores),
        }
        out.append((est, realized))
    return out


def coverage(results, metric: str) -> float:
    inside = [e[metric].lower <= r[metric] <= e[metric].upper for e, r in results]
    return float(np.mean(inside))


def test_isotonic_equals_scikit_learn():
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(size=3000), 2)  # with ties
    y = (rng.uniform(size=3000) < x**2).astype(int)
    ours = isotonic(x, y)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    grid = np.linspace(-0.2, 1.2, 501)
    np.testing.assert_allclose(ours(grid), theirs.predict(grid), atol=1e-12)
    np.testing.assert_allclose(ours.x, theirs.X_thresholds_)


def test_calibrated_model_estimate_is_within_its_band_in_90_percent_of_hours():
    rng = np.random.default_rng(7)
    reference = reference_for(rng)
    assert reference.calibrator.method == IDENTITY  # already calibrated: isotonic not used
    results = hours(rng, reference)
    assert coverage(results, "accuracy") >= 0.90
    assert coverage(results, "f1") >= 0.90
    gaps = [abs(e["roc_auc"].value - r["roc_auc"]) for e, r in results]
    assert np.mean(gaps) < 0.02  # binned AUC stays close to the exact one


def test_isotonic_is_used_where_it_lowers_the_calibration_error():
    rng = np.random.default_rng(8)
    squash = lambda p: p**2.5  # noqa: E731 - a model that is far too sure of "negative"
    reference = reference_for(rng, squash)
    calibrator = reference.calibrator
    assert calibrator.method == ISOTONIC
    assert calibrator.calibrated_ece < calibrator.raw_ece
    assert coverage(hours(rng, reference, squash), "accuracy") >= 0.90
    raw = CbpeReference(type(calibrator)(), reference.edges)  # the raw score, uncalibrated
    assert coverage(hours(rng, raw, squash), "accuracy") < 0.5  # what isotonic fixed


def test_concept_drift_makes_the_gap_visible():
    rng = np.random.default_rng(9)
    reference = reference_for(rng)

    def flip(rng, scores, labels):  # the relationship changes: a third of labels inverted
        flipped = rng.uniform(size=labels.size) < 0.33
        return np.where(flipped, 1 - labels, labels)

    results = hours(rng, reference, relabel=flip)
    outside = [r["accuracy"] < e["accuracy"].lower for e, r in results]
    assert np.mean(outside) > 0.9  # the estimate still says "fine": only labels can tell
    gap = np.mean([e["accuracy"].value - r["accuracy"] for e, r in results])
    assert gap > 0.1


def test_hours_merge_into_the_day_exactly():
    rng = np.random.default_rng(10)
    reference = reference_for(rng)
    parts, all_scores = [], []
    for _ in range(24):
        scores, _ = world(rng, 300)
        parts.append(CbpeAggregate.of(reference, scores, scores >= 0.5))
        all_scores.append(scores)
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    scores = np.concatenate(all_scores)
    whole = CbpeAggregate.of(reference, scores, scores >= 0.5)
    np.testing.assert_allclose(merged.counts, whole.counts)
    np.testing.assert_allclose(merged.sum_p, whole.sum_p)
    day, direct = estimate(merged), estimate(whole)
    assert day["accuracy"].value == pytest.approx(direct["accuracy"].value)
    assert day["roc_auc"].se == pytest.approx(direct["roc_auc"].se)
    assert CbpeAggregate.from_json(merged.to_json()).rows == 24 * 300
    p = reference.calibrator(scores)
    expected = np.mean(np.where(scores >= 0.5, p, 1 - p))
    assert day["accuracy"].value == pytest.approx(expected)  # hand-computed expectation
    assert row_sd(merged) == pytest.approx(np.sqrt(np.mean(p * (1 - p))))


def test_calibration_error_and_empty_windows():
    assert calibration_error([0.2, 0.2, 0.8, 0.8], [0, 1, 1, 1], bins=2) == pytest.approx(
        0.5 * 0.3 + 0.5 * 0.2
    )
    empty = CbpeAggregate.empty((0.5,))
    assert estimate(empty) == {}
    one_class = CbpeAggregate.of(CbpeReference(isotonic([0, 1], [0, 0]), (0.5,)), [0.1], [False])
    assert set(estimate(one_class)) == {"accuracy"}  # no expected positives: no F1, no AUC
