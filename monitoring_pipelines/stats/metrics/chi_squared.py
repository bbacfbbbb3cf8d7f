"""Chi-squared test of homogeneity (``chi_squared``).

- Column kinds: categorical.
- Formula: on the 2 × k contingency table of baseline and production counts over
  the union of categories (a category seen on one side only is a cell with a zero
  on the other, never dropped), X² = Σ (O − E)² / E with E = row total · column
  total / n, dof = k − 1, p = P(χ²_dof ≥ X²) — as
  ``scipy.stats.chi2_contingency(table, correction=False)``. Categories absent
  from both sides are not cells; a single category left gives X² = 0, p = 1.
- Range: X² in [0, ∞); p in [0, 1]. Symmetric. A test: drift when p < threshold,
  default threshold 0.05 (before any multiple-testing correction). With very large
  windows tiny, harmless shifts become significant: prefer ``psi``/``tvd`` there.

| p-value        | status   |
|----------------|----------|
| ≥ 0.05         | stable   |
| 0.001 – 0.05   | drifting |
| < 0.001        | critical |
"""

from __future__ import annotations

import numpy as np
from scipy import special

from monitoring_pipelines.stats.metrics.distributions import aligned_counts
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import CategoricalProfile


def chi_squared(reference: CategoricalProfile, current: CategoricalProfile) -> Measurement:
    """X² statistic and p-value of the 2 × k table of counts."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    column_totals = ref_counts + cur_counts
    keep = column_totals > 0
    ref_counts, cur_counts, column_totals = ref_counts[keep], cur_counts[keep], column_totals[keep]
    dof = column_totals.size - 1
    if dof < 1:
        return Measurement(value=0.0, p_value=1.0, detail={"dof": 0})
    share = column_totals / column_totals.sum()
    expected_ref = share * ref_counts.sum()
    expected_cur = share * cur_counts.sum()
    statistic = float(
        np.sum((ref_counts - expected_ref) ** 2 / expected_ref)
        + np.sum((cur_counts - expected_cur) ** 2 / expected_cur)
    )
    p_value = float(special.chdtrc(dof, statistic))
    return Measurement(value=statistic, p_value=p_value, detail={"dof": int(dof)})
