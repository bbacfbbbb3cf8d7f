"""Hellinger distance on bin or category proportions (``hellinger``).

- Column kinds: numerical (bins), categorical (categories, aligned on their union).
- Formula: H = √(1 − Σ √(p_i · q_i)) (1 − Bhattacharyya coefficient; H is in
  [0, 1] without a ½·√2 factor). Computed as the equal √(½ Σ (√p_i − √q_i)²),
  which is exactly 0 for identical proportions despite rounding.
- Range: [0, 1] (1 when the two share no cell). Symmetric. Default threshold: 0.15
  (on pure noise H ≈ √((k − 1) / 8n) for k cells and n rows: 0.07 for 40 bins and
  1000 rows, so the 0.05 band is rarely quiet on small windows).

| H            | status   |
|--------------|----------|
| < 0.05       | stable   |
| 0.05 – 0.15  | small    |
| 0.15 – 0.3   | moderate |
| 0.3 – 0.5    | large    |
| ≥ 0.5        | severe   |
"""

from __future__ import annotations

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import aligned_counts, proportions
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile


def hellinger(reference: ColumnProfile, current: ColumnProfile) -> Measurement:
    """Hellinger distance between the two proportion vectors."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    p, q = proportions(ref_counts), proportions(cur_counts)
    squared = 0.5 * float(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))
    return Measurement(value=float(np.sqrt(min(squared, 1.0))))
