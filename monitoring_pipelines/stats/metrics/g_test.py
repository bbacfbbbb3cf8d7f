"""G-test (log-likelihood ratio) of homogeneity (``g_test``).

- Column kinds: categorical.
- Formula: on the 2 × k table of baseline and production counts over the union of
  categories (as ``chi_squared``), G = 2 Σ O · ln(O / E) with E = row total · column total
  / n (cells with O = 0 add nothing), dof = k − 1, p = P(χ²_dof ≥ G) — as
  ``scipy.stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")``.
  A single category left gives G = 0, p = 1. Closer to the exact test than X² when some
  expected counts are small.
- Range: G in [0, ∞); p in [0, 1]. Symmetric. A test: drift when p < threshold, default
  threshold 0.05 (before any multiple-testing correction).

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


def g_test(reference: CategoricalProfile, current: CategoricalProfile) -> Measurement:
    """G statistic and p-value of the 2 × k table of counts."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    keep = (ref_counts + cur_counts) > 0
    table = np.vstack((ref_counts[keep], cur_counts[keep]))
    dof = table.shape[1] - 1
    if dof < 1:
        return Measurement(value=0.0, p_value=1.0, detail={"dof": 0})
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    observed = table > 0
    statistic = float(
        max(2.0 * np.sum(table[observed] * np.log(table[observed] / expected[observed])), 0.0)
    )
    p_value = float(special.chdtrc(dof, statistic))
    return Measurement(value=statistic, p_value=p_value, detail={"dof": int(dof)})
