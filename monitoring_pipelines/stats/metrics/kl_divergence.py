"""Kullback–Leibler divergence of the window from the baseline (``kl_divergence``).

- Column kinds: numerical (bins), categorical (categories, aligned on their union).
- Formula: KL(p ‖ q) = Σ p_i · ln(p_i / q_i), natural log, p = baseline and q = production
  proportions; an empty proportion is replaced by ε (``epsilon``, default 1e-4) and each
  side renormalised, as ``scipy.stats.entropy(p, q)`` computes it on the smoothed vectors.
  PSI is KL(p ‖ q) + KL(q ‖ p) on the same cells.
- Range: [0, ∞). Not symmetric. Default threshold: 0.1 (Evidently's ``kl_div``), the
  effect-size floor under calibration (on pure noise KL ≈ (k − 1) / 2n for k cells).

| KL           | status      |
|--------------|-------------|
| < 0.1        | stable      |
| 0.1 – 0.25   | moderate    |
| ≥ 0.25       | significant |
"""

from __future__ import annotations

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import aligned_counts, proportions
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile

DEFAULT_EPSILON = 1e-4


def kl_divergence(
    reference: ColumnProfile, current: ColumnProfile, *, epsilon: float = DEFAULT_EPSILON
) -> Measurement:
    """KL(baseline ‖ window) on ε-smoothed, renormalised proportions."""
    if not epsilon > 0:
        raise ValueError(f"kl_divergence: epsilon must be positive, got {epsilon!r}")
    ref_counts, cur_counts = aligned_counts(reference, current)
    p, q = (_smoothed(proportions(c), epsilon) for c in (ref_counts, cur_counts))
    return Measurement(value=float(max(np.sum(p * np.log(p / q)), 0.0)))


def _smoothed(p: np.ndarray, epsilon: float) -> np.ndarray:
    p = np.where(p == 0, epsilon, p)
    return p / p.sum()
