"""Multiclass ROC AUC (one-vs-rest, macro and per class) and log loss equal scikit-learn's on
the same rows: chunked, with ties, with a class absent, with probabilities of 0 and 1, and
with unusable probability rows counted and left out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.exceptions import UndefinedMetricWarning

from monitoring_pipelines.stats.multiclass_scores import ProbabilityAccumulator
from monitoring_pipelines.stats.performance import accumulator

CLASSES = ["bronze", "gold", "silver"]  # sorted, as scikit-learn orders the columns
RNG = np.random.default_rng(80)


def probability_rows(n: int, classes=CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from tied, exactly normalized probabilities (small integer weights)."""
    weights = RNG.integers(0, 6, size=(n, len(classes))).astype(float)
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    matrix = weights / weights.sum(axis=1, keepdims=True)
    labels = np.array([RNG.choice(classes, p=row) for row in matrix])
    return labels, matrix


def fed(labels, matrix, chunk=None, classes=CLASSES, tolerance=0.01):
    acc = ProbabilityAccumulator(classes, tolerance)
    chunk = chunk or len(labels)
    for i in range(0, len(labels), chunk):
        acc.add(labels[i : i + chunk], {c: matrix[i : i + chunk, j] for j, c in enumerate(classes)})
    return acc


def sklearn_ovr(labels, matrix, average="macro"):
    return sk.roc_auc_score(labels, matrix, multi_class="ovr", average=average, labels=CLASSES)


def test_chunked_rows_with_ties_equal_sklearn():
    labels, matrix = probability_rows(3_000)
    acc = fed(labels, matrix, chunk=700)
    metrics, per_class = acc.result()
    assert metrics["roc_auc_macro"] == pytest.approx(sklearn_ovr(labels, matrix), abs=1e-12)
    expected = sklearn_ovr(labels, matrix, average=None)
    assert [per_class[c] for c in CLASSES] == pytest.approx(list(expected), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(
        sk.log_loss(labels, matrix, labels=CLASSES), abs=1e-12
    )
    assert acc.counts() == {
        "used": 3_000,
        "missing": 0,
        "out_of_range": 0,
        "off_sum": 0,
        "unknown_class": 0,
    }


def test_the_class_order_of_the_mapping_does_not_matter():
    labels, matrix = probability_rows(500)
    acc = ProbabilityAccumulator(["silver", "bronze", "gold"])
    acc.add(labels, {"gold": matrix[:, 1], "silver": matrix[:, 2], "bronze": matrix[:, 0]})
    assert acc.result()[0]["roc_auc_macro"] == pytest.approx(sklearn_ovr(labels, matrix))


def test_a_class_absent_from_the_hour_has_no_macro_auc_as_sklearn():
    labels, matrix = probability_rows(800)
    keep = labels != "silver"
    labels, matrix = labels[keep], matrix[keep]
    metrics, per_class = fed(labels, matrix).result()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        assert np.isnan(sklearn_ovr(labels, matrix))  # scikit-learn: undefined
        expected = sklearn_ovr(labels, matrix, average=None)
    assert "roc_auc_macro" not in metrics
    assert set(per_class) == {"bronze", "gold"}
    assert per_class["bronze"] == pytest.approx(expected[0], abs=1e-12)
    assert per_class["gold"] == pytest.approx(expected[1], abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(
        sk.log_loss(labels, matrix, labels=CLASSES), abs=1e-12
    )


def test_probabilities_of_zero_and_one_are_clipped_as_sklearn():
    labels = np.array(["gold", "gold", "silver", "bronze", "bronze", "silver"])
    matrix = np.array(
        [
            [0.0, 1.0, 0.0],  # certain and right
            [1.0, 0.0, 0.0],  # certain and wrong: log(ε), not −inf
            [0.0, 0.0, 1.0],
            [0.5, 0.5, 0.0],
            [0.0, 0.0, 1.0],  # certain and wrong
            [0.2, 0.3, 0.5],
        ]
    )
    metrics, _ = fed(labels, matrix).result()
    expected = sk.log_loss(labels, matrix, labels=CLASSES)
    assert np.isfinite(metrics["log_loss"])
    assert metrics["log_loss"] == pytest.approx(expected, rel=1e-12)
    assert metrics["roc_auc_macro"] == pytest.approx(sklearn_ovr(labels, matrix), abs=1e-12)


def test_unusable_rows_are_counted_and_left_out():
    labels, matrix = probability_rows(1_200)
    matrix = matrix.copy()
    labels = labels.astype(object)
    matrix[:30, 1] = np.nan  # missing
    matrix[30:40] = [[1.2, -0.2, 0.0]] * 10  # sums to 1 but outside [0, 1]
    matrix[40:65] = [[0.5, 0.5, 0.2]] * 25  # sums to 1.2
    labels[65:70] = "platinum"  # not a declared class
    matrix[70:80] = matrix[70:80] * (1 + 0.004)  # within the 0.01 tolerance: used as logged
    acc = fed(labels, matrix, chunk=256)
    assert acc.counts() == {
        "used": 1_200 - 70,
        "missing": 30,
        "out_of_range": 10,
        "off_sum": 25,
        "unknown_class": 5,
    }
    good_labels, good = labels[70:].astype(str), matrix[70:]
    metrics, per_class = acc.result()
    # scikit-learn's ROC AUC refuses rows that do not sum to 1 within 1e-5: its definition,
    # the mean of the per-class binary AUCs, is what it would compute
    binary = [sk.roc_auc_score(good_labels == c, good[:, i]) for i, c in enumerate(CLASSES)]
    assert metrics["roc_auc_macro"] == pytest.approx(np.mean(binary), abs=1e-12)
    assert [per_class[c] for c in CLASSES] == pytest.approx(binary, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "do not sum to one": it only warns
        expected = sk.log_loss(good_labels, good, labels=CLASSES)
    assert metrics["log_loss"] == pytest.approx(expected, abs=1e-12)
    exact = slice(80, None)  # the rows that sum to 1: scikit-learn's ROC AUC accepts them
    alone = fed(good_labels[10:], good[10:]).result()[0]
    assert alone["roc_auc_macro"] == pytest.approx(
        sklearn_ovr(labels[exact].astype(str), matrix[exact]), abs=1e-12
    )


def test_nothing_usable_gives_no_metric_but_the_counts():
    acc = fed(np.array(["gold", "bronze"]), np.full((2, 3), np.nan))
    assert acc.result() == ({}, {})
    assert acc.counts()["missing"] == 2 and acc.counts()["used"] == 0


def test_the_window_performance_carries_them():
    labels, matrix = probability_rows(1_000)
    prediction = np.array(CLASSES)[matrix.argmax(axis=1)]
    acc = accumulator("multiclass", classes=CLASSES)
    for i in range(0, 1_000, 300):
        part = slice(i, i + 300)
        acc.add(
            labels[part],
            prediction[part],
            None,
            {c: matrix[part, j] for j, c in enumerate(CLASSES)},
        )
    result = acc.result(rows_scored=2_000)
    assert result.metrics["roc_auc_macro"] == pytest.approx(sklearn_ovr(labels, matrix))
    assert result.metrics["log_loss"] == pytest.approx(sk.log_loss(labels, matrix, labels=CLASSES))
    assert result.metrics["accuracy"] == pytest.approx(sk.accuracy_score(labels, prediction))
    per_class = sklearn_ovr(labels, matrix, average=None)
    assert [result.per_class[c]["roc_auc"] for c in CLASSES] == pytest.approx(list(per_class))
    assert result.probability_rows["used"] == result.labelled_rows == 1_000


def test_bad_classes_and_mappings_are_named():
    with pytest.raises(ValueError, match="at least two distinct"):
        ProbabilityAccumulator(["gold", "gold"])
    with pytest.raises(ValueError, match=r"unknown: \['platinum'\], absent: \['silver'\]"):
        ProbabilityAccumulator(CLASSES).add(
            np.array(["gold"]), {"gold": [1.0], "bronze": [0.0], "platinum": [0.0]}
        )
    with pytest.raises(ValueError, match="for task multiclass, not binary"):
        accumulator("binary", "gold", classes=CLASSES)
    with pytest.raises(ValueError, match="need the classes"):
        accumulator("multiclass").add(["gold"], ["gold"], None, {"gold": [1.0]})
