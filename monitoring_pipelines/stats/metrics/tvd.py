"""Total variation distance (``tvd``), the "drift score" of many monitoring tools.

- Column kinds: numerical (bins), categorical (categories, aligned on their union).
- Formula: TVD = ½ · Σ |p_i − q_i| over the baseline (p) and production (q) proportions.
- Range: [0, 1] (1 when the two share no cell). Symmetric. Default threshold: 0.2.

| TVD          | status     |
|--------------|------------|
| < 0.2        | stable     |
| 0.2 – 0.3    | concerning |
| 0.3 – 0.35   | drifting   |
| ≥ 0.35       | critical   |
"""

from __future__ import annotations

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import aligned_counts, proportions
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile


def tvd(reference: ColumnProfile, current: ColumnProfile) -> Measurement:
    """Half the L1 distance between the two proportion vectors."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    p, q = proportions(ref_counts), proportions(cur_counts)
    return Measurement(value=min(float(0.5 * np.abs(p - q).sum()), 1.0))
