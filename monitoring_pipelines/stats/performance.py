"""Model performance of one window from labelled rows, accumulated chunk by chunk.

Classification keeps the confusion matrix (counts add), the log-loss sum and, for ROC AUC,
the positive-class score of each labelled row (one float and one flag a row: AUC is a rank
statistic and has no exact smaller summary). Regression keeps count, mean and M2 of the
label (Chan's merge) and the sums of the error, its square and its absolute value. Every
number equals scikit-learn's on the same rows: classes are the sorted union of labels and
predictions, an empty precision or recall is 0 (``zero_division=0``), log loss clips the
score to [ε, 1 − ε] (a missing or out-of-[0, 1] score leaves its row out of AUC and log
loss, counted in ``probability_rows``), R² of a constant label is 1 for a perfect fit and 0
otherwise. A multiclass model that logs each class's probability also gets one-vs-rest ROC
AUC (macro and per class) and log loss (``stats/multiclass_scores.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.multiclass_scores import (
    DEFAULT_TOLERANCE,
    ProbabilityAccumulator,
    binary_roc_auc,
    probability_numbers,
)

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
OK = "ok"
INSUFFICIENT_LABELS = "insufficient_labels"
LOWER_IS_BETTER = frozenset(
    {"rmse", "mae", "log_loss", "latency_p50", "latency_p95", "latency_p99"}
)


def primary_metric(task: Task) -> str:
    """The metric a window is judged on: accuracy, or RMSE for regression."""
    return "rmse" if task == "regression" else "accuracy"


def shortfall(metric: str, value: float, reference: float) -> float:
    """How much worse ``value`` is than ``reference`` (negative when better)."""
    return value - reference if metric in LOWER_IS_BETTER else reference - value


@dataclass(frozen=True)
class Performance:
    """One window's performance: counts, metrics, per-class metrics, confusion matrix
    (``task`` is None for a deployment without labels)."""

    task: Task | None
    status: str
    rows_scored: int
    labelled_rows: int
    metrics: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()
    state: dict[str, float] = field(default_factory=dict)
    # rows used for AUC and log loss, and left out by reason (binary scores, multiclass
    # probabilities)
    probability_rows: dict[str, int] = field(default_factory=dict)

    @property
    def labelled_share(self) -> float | None:
        return self.labelled_rows / self.rows_scored if self.rows_scored else None


def class_labels(values: Any) -> np.ndarray:
    """Class values as strings; integral floats lose their ``.0`` so 1.0 and 1 are one class."""
    series = pd.Series(values)
    if pd.api.types.is_float_dtype(series) and bool((series.dropna() % 1 == 0).all()):
        series = series.astype("Int64")
    return series.astype(str).to_numpy()


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


class ClassificationAccumulator:
    """Confusion counts, log-loss sum and AUC scores over the chunks of one window
    (``classes``: a multiclass model's classes, when it logs each one's probability)."""

    def __init__(
        self,
        task: Task,
        positive_class: str | None = None,
        classes: Any | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        if task == "binary" and positive_class is None:
            raise ValueError("a binary task needs its positive_class")
        if classes is not None and task != "multiclass":
            raise ValueError(f"class probabilities are for task multiclass, not {task}")
        self.task, self.positive_class = task, positive_class
        self.probabilities = ProbabilityAccumulator(classes, tolerance) if classes else None
        self.pairs: Counter[tuple[str, str]] = Counter()
        self.log_loss_sum = 0.0
        self.scores: list[np.ndarray] = []
        self.positives: list[np.ndarray] = []
        self.score_rows = {"used": 0, "missing": 0, "out_of_range": 0}

    def add_confusion(self, classes: Any, matrix: Any) -> None:
        """Add a stored window's confusion matrix (rows: label, columns: prediction)."""
        for label, row in zip(classes, matrix, strict=True):
            for prediction, count in zip(classes, row, strict=True):
                if count:
                    self.pairs[(label, prediction)] += int(count)

    def add(
        self,
        labels: Any,
        predictions: Any,
        scores: Any | None = None,
        probabilities: Any | None = None,
    ) -> None:
        """Count labelled rows; ``scores`` is the positive class's probability (binary),
        ``probabilities`` maps each class to its probabilities (multiclass)."""
        labels, predictions = class_labels(labels), class_labels(predictions)
        self.pairs.update(zip(labels.tolist(), predictions.tolist(), strict=True))
        if probabilities is not None:
            if self.probabilities is None:
                raise ValueError("probabilities need the classes (accumulator(..., classes=))")
            self.probabilities.add(labels, probabilities)
        if scores is not None and self.task == "binary":
            score = probability_numbers(scores)
            if score.size != labels.size:
                raise ValueError(f"{labels.size} labels but {score.size} scores")
            # a missing or out-of-range score would make the hour's AUC and log loss NaN:
            # its row is left out of both and counted, as a multiclass probability row is
            missing = np.isnan(score)
            out_of_range = ~missing & ((score < 0) | (score > 1))
            self.score_rows["missing"] += int(missing.sum())
            self.score_rows["out_of_range"] += int(out_of_range.sum())
            kept = ~(missing | out_of_range)
            score, positive = score[kept], (labels == self.positive_class)[kept]
            self.score_rows["used"] += int(score.size)
            eps = np.finfo(float).eps
            clipped = np.clip(score, eps, 1 - eps)
            self.log_loss_sum -= float(np.log(np.where(positive, clipped, 1 - clipped)).sum())
            self.scores.append(score)
            self.positives.append(positive)

    def result(self, rows_scored: int, min_labels: int = 1) -> Performance:
        """The window's metrics, or status ``insufficient_labels`` below ``min_labels``."""
        n = sum(self.pairs.values())
        if n < max(min_labels, 1):
            return Performance(self.task, INSUFFICIENT_LABELS, rows_scored, n)
        classes = sorted({c for pair in self.pairs for c in pair})
        index = {c: i for i, c in enumerate(classes)}
        matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
        for (label, prediction), count in self.pairs.items():
            matrix[index[label], index[prediction]] += count
        true_positive = np.diag(matrix).astype(float)
        precision = [_ratio(tp, p) for tp, p in zip(true_positive, matrix.sum(0), strict=True)]
        recall = [_ratio(tp, s) for tp, s in zip(true_positive, matrix.sum(1), strict=True)]
        f1 = [_ratio(2 * p * r, p + r) for p, r in zip(precision, recall, strict=True)]
        per_class = {
            c: {"precision": precision[i], "recall": recall[i], "f1": f1[i]}
            for i, c in enumerate(classes)
        }
        metrics = {
            "accuracy": float(true_positive.sum() / n),
            "precision_macro": float(np.mean(precision)),
            "recall_macro": float(np.mean(recall)),
            "f1_macro": float(np.mean(f1)),
        }
        if self.task == "binary":
            chosen = per_class.get(self.positive_class, {"precision": 0.0, "recall": 0.0})
            metrics |= {k: chosen.get(k, 0.0) for k in ("precision", "recall", "f1")}
        rows: dict[str, int] = {}
        if self.scores:
            scores, positives = np.concatenate(self.scores), np.concatenate(self.positives)
            if scores.size:
                metrics["log_loss"] = self.log_loss_sum / scores.size
                auc = binary_roc_auc(scores, positives)
                if auc is not None:
                    metrics["roc_auc"] = auc
            rows = dict(self.score_rows)
        if self.probabilities is not None:
            scored, aucs = self.probabilities.result()
            metrics |= scored
            for name, auc in aucs.items():
                per_class[name]["roc_auc"] = auc
            rows = self.probabilities.counts()
        confusion = tuple(tuple(int(v) for v in row) for row in matrix)
        return Performance(
            self.task,
            OK,
            rows_scored,
            n,
            metrics,
            per_class,
            tuple(classes),
            confusion,
            probability_rows=rows,
        )


class RegressionAccumulator:
    """Label moments and error sums over the chunks of one window."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.error_sum = self.squared_sum = self.absolute_sum = 0.0

    STATE = ("n", "mean", "m2", "error_sum", "squared_sum", "absolute_sum")

    def merge_state(self, state: dict[str, float]) -> None:
        """Add a stored window's sums (Chan's merge of the label moments)."""
        n = int(state["n"])
        if not n:
            return
        total = self.n + n
        delta = state["mean"] - self.mean
        self.m2 += state["m2"] + delta**2 * self.n * n / total
        self.mean += delta * n / total
        self.n = total
        self.error_sum += state["error_sum"]
        self.squared_sum += state["squared_sum"]
        self.absolute_sum += state["absolute_sum"]

    def add(self, labels: Any, predictions: Any) -> None:
        """Add labelled rows; the error is prediction minus label."""
        y = np.asarray(labels, dtype=float)
        if not y.size:
            return
        error = np.asarray(predictions, dtype=float) - y
        n, mean = y.size, float(y.mean())
        m2 = float(((y - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * self.n * n / total
        self.mean += delta * n / total
        self.n = total
        self.error_sum += float(error.sum())
        self.squared_sum += float((error**2).sum())
        self.absolute_sum += float(np.abs(error).sum())

    def result(self, rows_scored: int, min_labels: int = 1) -> Performance:
        """RMSE, MAE, R² and mean error, or status ``insufficient_labels``."""
        if self.n < max(min_labels, 1):
            return Performance("regression", INSUFFICIENT_LABELS, rows_scored, self.n)
        if self.m2 > 0:
            r2 = 1 - self.squared_sum / self.m2
        else:
            r2 = 1.0 if self.squared_sum == 0 else 0.0
        metrics = {
            "rmse": float(np.sqrt(self.squared_sum / self.n)),
            "mae": self.absolute_sum / self.n,
            "r2": float(r2),
            "mean_error": self.error_sum / self.n,
        }
        state = {name: float(getattr(self, name)) for name in self.STATE}
        return Performance("regression", OK, rows_scored, self.n, metrics, state=state)


def accumulator(
    task: Task,
    positive_class: str | None = None,
    classes: Any | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ClassificationAccumulator | RegressionAccumulator:
    """The accumulator for ``task`` (``classes``: multiclass with class probabilities)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (valid: {', '.join(TASKS)})")
    if task == "regression":
        return RegressionAccumulator()
    return ClassificationAccumulator(task, positive_class, classes, tolerance)
