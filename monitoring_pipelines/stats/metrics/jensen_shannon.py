"""Jensen–Shannon distance (``jensen_shannon``).

- Column kinds: numerical (bins), categorical (categories, aligned on their union).
- Formula: JS = √(½ KL(p ‖ m) + ½ KL(q ‖ m)), m = ½ (p + q), logarithms in base 2.
  This is the *distance*: the square root of the Jensen–Shannon divergence, as
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
- Range: [0, 1] (1 when the two share no cell). Symmetric. Default threshold: 0.1.

| JS distance  | status      |
|--------------|-------------|
| < 0.1        | stable      |
| 0.1 – 0.2    | moderate    |
| ≥ 0.2        | significant |
"""

from __future__ import annotations

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import aligned_counts, proportions
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile


def jensen_shannon(reference: ColumnProfile, current: ColumnProfile) -> Measurement:
    """Jensen–Shannon distance (base 2) between the two proportion vectors."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    p, q = proportions(ref_counts), proportions(cur_counts)
    m = 0.5 * (p + q)
    divergence = 0.5 * (_kl(p, m) + _kl(q, m))
    return Measurement(value=float(np.sqrt(min(max(divergence, 0.0), 1.0))))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    """KL(p ‖ m) in bits; cells with p = 0 contribute nothing (m > 0 wherever p > 0)."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))
