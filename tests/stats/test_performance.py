"""Window performance equals scikit-learn's on the same labelled rows, chunked or not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from monitoring_pipelines.stats.performance import (
    INSUFFICIENT_LABELS,
    OK,
    accumulator,
)

RNG = np.random.default_rng(8)


def binary_rows(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score = RNG.uniform(size=n)
    label = np.where(RNG.uniform(size=n) < score, "yes", "no")
    score = np.round(score, 2)  # ties, which AUC must rank at their mean
    prediction = np.where(score > 0.4, "yes", "no")
    return label, prediction, score


def fed(task, chunks, positive_class=None, rows_scored=None):
    acc = accumulator(task, positive_class)
    for chunk in chunks:
        acc.add(*chunk)
    n = sum(len(c[0]) for c in chunks)
    return acc.result(rows_scored or n)


def test_binary_matches_sklearn_in_chunks():
    label, prediction, score = binary_rows(5_000)
    chunks = [
        (label[i : i + 700], prediction[i : i + 700], score[i : i + 700])
        for i in range(0, 5_000, 700)
    ]
    result = fed("binary", chunks, "yes", rows_scored=9_000)
    assert result.status == OK and result.labelled_rows == 5_000
    assert result.labelled_share == pytest.approx(5_000 / 9_000)
    m = result.metrics
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(label, prediction), abs=1e-12)
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        assert m[name] == pytest.approx(fn(label, prediction, pos_label="yes"), abs=1e-12)
        assert m[f"{name}_macro"] == pytest.approx(
            fn(label, prediction, average="macro"), abs=1e-12
        )
    assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(label == "yes", score), abs=1e-12)
    assert m["log_loss"] == pytest.approx(sk.log_loss(label == "yes", score), abs=1e-12)
    assert result.classes == ("no", "yes")
    assert np.array_equal(result.confusion, sk.confusion_matrix(label, prediction))
    per_class_f1 = sk.f1_score(label, prediction, average=None, labels=["no", "yes"])
    assert [result.per_class[c]["f1"] for c in ("no", "yes")] == pytest.approx(per_class_f1)


def test_binary_unusable_scores_are_left_out_of_auc_and_log_loss_and_counted():
    label, prediction, score = binary_rows(2_000)
    logged = score.astype(object)
    logged[[3, 500, 1_999]] = [np.nan, None, "n/a"]  # missing or not a number
    logged[[10, 11]] = [1.5, -0.25]  # outside [0, 1]
    chunks = [
        (label[i : i + 600], prediction[i : i + 600], logged[i : i + 600])
        for i in range(0, 2_000, 600)
    ]
    result = fed("binary", chunks, "yes")
    kept = np.ones(2_000, dtype=bool)
    kept[[3, 500, 1_999, 10, 11]] = False
    m = result.metrics
    assert m["roc_auc"] == pytest.approx(
        sk.roc_auc_score(label[kept] == "yes", score[kept]), abs=1e-12
    )
    assert m["log_loss"] == pytest.approx(sk.log_loss(label[kept] == "yes", score[kept]))
    assert result.probability_rows == {"used": 1_995, "missing": 3, "out_of_range": 2}
    # accuracy and the confusion matrix still count every labelled row
    assert result.labelled_rows == 2_000
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(label, prediction), abs=1e-12)


def test_binary_hour_whose_scores_are_all_missing_has_no_auc_and_says_why():
    label, prediction, _ = binary_rows(50)
    result = fed("binary", [(label, prediction, [None] * 50)], "yes")
    assert "roc_auc" not in result.metrics and "log_loss" not in result.metrics
    assert result.probability_rows == {"used": 0, "missing": 50, "out_of_range": 0}
    assert result.status == OK and result.metrics["accuracy"] == pytest.approx(
        sk.accuracy_score(label, prediction)
    )


def test_multiclass_matches_sklearn_including_a_never_predicted_class():
    label = RNG.choice(["a", "b", "c", "d"], size=3_000, p=[0.5, 0.3, 0.15, 0.05])
    prediction = np.where(
        RNG.uniform(size=3_000) < 0.7, label, RNG.choice(["a", "b", "c"], size=3_000)
    )
    prediction[prediction == "d"] = "a"
    result = fed(
        "multiclass", [(label[:1000], prediction[:1000]), (label[1000:], prediction[1000:])]
    )
    m = result.metrics
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(label, prediction))
    for name, fn in (
        ("precision_macro", sk.precision_score),
        ("recall_macro", sk.recall_score),
        ("f1_macro", sk.f1_score),
    ):
        assert m[name] == pytest.approx(fn(label, prediction, average="macro", zero_division=0))
    assert result.per_class["d"]["precision"] == 0.0  # "d" is never predicted
    assert np.array_equal(result.confusion, sk.confusion_matrix(label, prediction))
    assert "roc_auc" not in m


def test_hour_with_one_class_only():
    label = np.array(["no"] * 50)
    prediction = np.array(["no"] * 45 + ["yes"] * 5)
    score = np.linspace(0.1, 0.6, 50)
    result = fed("binary", [(label, prediction, score)], "yes")
    assert result.status == OK
    assert "roc_auc" not in result.metrics  # undefined with one class, not a crash
    assert result.metrics["accuracy"] == pytest.approx(0.9)
    assert result.metrics["precision"] == sk.precision_score(
        label, prediction, pos_label="yes", zero_division=0
    )
    assert result.metrics["log_loss"] == pytest.approx(
        sk.log_loss(label == "yes", score, labels=[False, True])
    )


def test_no_labelled_rows_is_insufficient_labels():
    for task in ("binary", "regression"):
        result = accumulator(task, "yes").result(rows_scored=120)
        assert result.status == INSUFFICIENT_LABELS
        assert (result.rows_scored, result.labelled_rows, result.metrics) == (120, 0, {})
        assert result.labelled_share == 0.0


def test_regression_matches_sklearn_in_chunks():
    y = RNG.lognormal(3, 1, size=4_000) + 1e6  # a large offset tests the moment merge
    prediction = y + RNG.normal(0.5, 3, size=4_000)
    chunks = [(y[i : i + 333], prediction[i : i + 333]) for i in range(0, 4_000, 333)]
    m = fed("regression", chunks).metrics
    assert m["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, prediction)), rel=1e-9)
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, prediction), rel=1e-9)
    assert m["r2"] == pytest.approx(sk.r2_score(y, prediction), rel=1e-9)
    assert m["mean_error"] == pytest.approx(np.mean(prediction - y), rel=1e-9)


def test_regression_constant_label_r2_as_sklearn():
    y = np.full(10, 3.0)
    assert fed("regression", [(y, y)]).metrics["r2"] == sk.r2_score(y, y)
    assert fed("regression", [(y, y + 1)]).metrics["r2"] == sk.r2_score(y, y + 1)


def test_bad_task_and_missing_positive_class_are_named():
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        accumulator("ranking")
    with pytest.raises(ValueError, match="positive_class"):
        accumulator("binary")


def test_integral_floats_and_ints_are_one_class():
    result = fed("binary", [(np.array([1, 0, 1, 1]), np.array([1.0, 0.0, 0.0, 1.0]))], "1")
    assert result.classes == ("0", "1")
    assert result.metrics["accuracy"] == 0.75
    assert result.metrics["recall"] == pytest.approx(2 / 3)
