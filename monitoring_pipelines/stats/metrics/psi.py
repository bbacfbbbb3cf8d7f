"""Population stability index (``psi``).

- Column kinds: numerical (bins), categorical (categories, aligned on their union).
- Formula: PSI = Σ (q_i − p_i) · ln(q_i / p_i), natural log; p = baseline and q =
  production proportions; an empty proportion is replaced by ε (``epsilon``,
  default 1e-4), without renormalising.
- Numerical columns are scored on at most ``max_bins`` (default 10) groups of
  adjacent stored bins of about equal baseline mass — the conventional deciles —
  plus the two outer bins; ``max_bins=None`` uses every stored bin. PSI grows with
  the number of cells on pure noise (about (k − 1)/n for k cells and n rows), so
  fewer cells keep small windows from looking drifted. On a discrete column the
  baseline's values are grouped that way, and each new value stays a cell of its own.
- Range: [0, ∞). Symmetric in p and q. Default threshold: 0.1.

| PSI          | status      |
|--------------|-------------|
| < 0.1        | stable      |
| 0.1 – 0.25   | moderate    |
| ≥ 0.25       | significant |
"""

from __future__ import annotations

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import (
    aligned_counts,
    coarsen,
    exact_values,
    proportions,
)
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile, NumericalProfile

DEFAULT_EPSILON = 1e-4
DEFAULT_MAX_BINS = 10


def psi(
    reference: ColumnProfile,
    current: ColumnProfile,
    *,
    epsilon: float = DEFAULT_EPSILON,
    max_bins: int | None = DEFAULT_MAX_BINS,
) -> Measurement:
    """PSI of the production proportions against the baseline's."""
    if not epsilon > 0:
        raise ValueError(f"psi: epsilon must be positive, got {epsilon!r}")
    ref_counts, cur_counts = psi_cells(reference, current, max_bins)
    return Measurement(
        value=psi_of_proportions(proportions(ref_counts), proportions(cur_counts), epsilon)
    )


def psi_cells(
    reference: ColumnProfile, current: ColumnProfile, max_bins: int | None = DEFAULT_MAX_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """The two count vectors PSI compares: the aligned cells, a numerical column's grouped."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    if max_bins is not None and isinstance(reference, NumericalProfile):
        if max_bins < 1:
            raise ValueError(f"psi: max_bins must be a positive integer or None, got {max_bins!r}")
        new = np.zeros(ref_counts.size, dtype=bool)
        if exact_values(reference, current):  # a discrete column's new values: never grouped
            new[1:-1] = ref_counts[1:-1] == 0
        grouped = coarsen(ref_counts[~new], cur_counts[~new], max_bins)
        ref_counts = np.concatenate((grouped[0], ref_counts[new]))
        cur_counts = np.concatenate((grouped[1], cur_counts[new]))
    return ref_counts, cur_counts


def psi_of_proportions(p: np.ndarray, q: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> float:
    """PSI of two aligned proportion vectors, empty proportions replaced by ``epsilon``."""
    return float(psi_rows(p, q, epsilon))


def psi_rows(p: np.ndarray, q: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> np.ndarray:
    """PSI of each row of two stacks of aligned proportions (the last axis holds the cells)."""
    p = np.where(p == 0, epsilon, p)
    q = np.where(q == 0, epsilon, q)
    return np.sum((q - p) * np.log(q / p), axis=-1)
