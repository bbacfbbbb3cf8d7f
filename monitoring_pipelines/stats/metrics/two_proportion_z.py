"""Two-proportion z-test for binary columns (``two_proportion_z``).

- Column kinds: categorical with at most two categories, numerical counted by value
  (discrete) with at most two values; anything else is ``undefined``.
- Formula: with p₁, p₂ the share of one of the two cells in the baseline (n₁ values) and
  the window (n₂ values) and p̂ the pooled share, z = (p₂ − p₁) / √(p̂ (1 − p̂) (1/n₁ + 1/n₂));
  two-sided p = 2 · Φ(−|z|). The value reported is |z|, the same for either cell; z²
  equals the uncorrected X² of the 2 × 2 table. Identical shares give z = 0, p = 1; a
  drifted result lists both cells' shares (``detail["categories"]``).
- Range: |z| in [0, ∞); p in [0, 1]. Symmetric. A test: drift when p < threshold,
  default threshold 0.05 (before any multiple-testing correction).

| p-value        | status   |
|----------------|----------|
| ≥ 0.05         | stable   |
| 0.001 – 0.05   | drifting |
| < 0.001        | critical |
"""

from __future__ import annotations

import math

from scipy import special

from monitoring_pipelines.stats.metrics.distributions import aligned_counts
from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.profile import ColumnProfile, NumericalProfile


def two_proportion_z(reference: ColumnProfile, current: ColumnProfile) -> Measurement:
    """|z| and two-sided p-value for the share of the first of two cells."""
    if isinstance(reference, NumericalProfile) and not reference.discrete:
        return undefined("not a binary column: the baseline is not counted by value")
    ref_counts, cur_counts = aligned_counts(reference, current)
    keep = (ref_counts + cur_counts) > 0
    ref_counts, cur_counts = ref_counts[keep], cur_counts[keep]
    if ref_counts.size > 2:
        return undefined(f"not a binary column: {ref_counts.size} distinct values")
    n1, n2 = float(ref_counts.sum()), float(cur_counts.sum())
    p1, p2 = ref_counts[0] / n1, cur_counts[0] / n2
    pooled = (ref_counts[0] + cur_counts[0]) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    z = 0.0 if variance == 0 else abs(float((p2 - p1) / math.sqrt(variance)))
    return Measurement(value=z, p_value=float(min(2.0 * special.ndtr(-z), 1.0)))
