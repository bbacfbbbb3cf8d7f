"""Multiclass ROC AUC (one-vs-rest) and log loss from each class's logged probability.

- **Input**: for each labelled row, the label and the probability of every declared class
  (``labels.classes`` / ``labels.probabilities`` in monitors.yaml; scikit-learn's ``labels``
  list, in sorted order).
- **roc_auc_macro**: the mean over the classes of the binary ROC AUC of class c against the
  rest, ranked by p_c (Mann–Whitney, tied scores at their mean rank), equal to
  ``roc_auc_score(y, P, multi_class="ovr", average="macro", labels=classes)``. A class with
  no row (or every row) in the window has no AUC, so the window has no macro AUC
  (scikit-learn's is NaN then); the per-class AUCs of the other classes are kept.
- **log_loss**: −mean log clip(p_label, ε, 1 − ε), ε the float64 machine epsilon, equal to
  ``log_loss(y, P, labels=classes)``. Probabilities are used as logged, not renormalized.
- **Rows left out, counted** (scikit-learn refuses each of them): a class probability
  missing (NaN or not a number), outside [0, 1], probabilities summing further than
  ``tolerance`` (default 0.01) from 1, or a label that is not a declared class.
- **Exact**, per window: AUC is a rank statistic with no smaller exact summary, so the
  window's probability rows are kept (one float a class and one index a row); log loss is a
  sum and merges across windows as a row-weighted mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_TOLERANCE = 0.01
EXCLUDED = ("missing", "out_of_range", "off_sum", "unknown_class")


def binary_roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Mann–Whitney AUC with tied scores at their mean rank; None with one class only."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if not n_pos or not n_neg:
        return None
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def probability_numbers(values: Any) -> np.ndarray:
    """Logged probabilities as float64, NaN where one is missing or not a number."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


class ProbabilityAccumulator:
    """The probability rows of one window over its chunks: log-loss sum, rows for the AUCs,
    and the rows left out by reason."""

    def __init__(self, classes: Any, tolerance: float = DEFAULT_TOLERANCE) -> None:
        names = [str(c) for c in classes]
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"classes must be at least two distinct values, got {names}")
        if not 0 < tolerance < 1:
            raise ValueError(f"tolerance must be within (0, 1), got {tolerance}")
        self.classes = tuple(sorted(names))
        self.tolerance = tolerance
        self.excluded = dict.fromkeys(EXCLUDED, 0)
        self.log_loss_sum = 0.0
        self.rows: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []

    def add(self, labels: np.ndarray, probabilities: Mapping[str, Any]) -> None:
        """Add labelled rows: ``labels`` as class strings, ``probabilities`` class → values."""
        unknown = sorted(set(probabilities) - set(self.classes))
        absent = sorted(set(self.classes) - set(probabilities))
        if unknown or absent:
            raise ValueError(
                f"probabilities must have exactly the classes {list(self.classes)} "
                f"(unknown: {unknown}, absent: {absent})"
            )
        labels = np.asarray(labels, dtype=object)
        matrix = np.column_stack([probability_numbers(probabilities[c]) for c in self.classes])
        if matrix.shape[0] != labels.size:
            raise ValueError(f"{labels.size} labels but {matrix.shape[0]} probability rows")
        index = {c: i for i, c in enumerate(self.classes)}
        target = np.array([index.get(label, -1) for label in labels.tolist()], dtype=np.int64)
        missing = np.isnan(matrix).any(axis=1)
        out_of_range = ~missing & ((matrix < 0) | (matrix > 1)).any(axis=1)
        off_sum = ~missing & ~out_of_range & (np.abs(matrix.sum(axis=1) - 1) > self.tolerance)
        unknown_class = ~(missing | out_of_range | off_sum) & (target < 0)
        for reason, rows in zip(
            EXCLUDED, (missing, out_of_range, off_sum, unknown_class), strict=True
        ):
            self.excluded[reason] += int(rows.sum())
        kept = ~(missing | out_of_range | off_sum | unknown_class)
        matrix, target = matrix[kept], target[kept]
        eps = np.finfo(float).eps
        chosen = np.clip(matrix[np.arange(target.size), target], eps, 1 - eps)
        self.log_loss_sum -= float(np.log(chosen).sum())
        self.rows.append(matrix)
        self.targets.append(target)

    @property
    def used(self) -> int:
        return int(sum(t.size for t in self.targets))

    def counts(self) -> dict[str, int]:
        """Rows used and rows left out by reason."""
        return {"used": self.used, **self.excluded}

    def result(self) -> tuple[dict[str, float], dict[str, float]]:
        """(``roc_auc_macro`` and ``log_loss`` where defined, class → its one-vs-rest AUC)."""
        if not self.used:
            return {}, {}
        matrix, target = np.concatenate(self.rows), np.concatenate(self.targets)
        per_class = {}
        for i, name in enumerate(self.classes):
            auc = binary_roc_auc(matrix[:, i], target == i)
            if auc is not None:
                per_class[name] = auc
        metrics = {"log_loss": self.log_loss_sum / target.size}
        if len(per_class) == len(self.classes):
            metrics["roc_auc_macro"] = float(np.mean([per_class[c] for c in self.classes]))
        return metrics, per_class
