"""L-infinity distance on bin or category proportions (``linf``).

- Column kinds: numerical (bins), categorical (categories, aligned on their union).
- Formula: L∞ = max_i |p_i − q_i|, the largest change of any one cell's share: Vertex AI's
  categorical drift distance and SageMaker Model Monitor's categorical comparison.
- Range: [0, 1]. Symmetric. Default threshold: 0.1 (SageMaker's default comparison
  threshold; Vertex AI's default is 0.3), the effect-size floor under calibration.

| L∞           | status      |
|--------------|-------------|
| < 0.1        | stable      |
| 0.1 – 0.3    | moderate    |
| ≥ 0.3        | significant |
"""

from __future__ import annotations

import numpy as np

from monitoring_pipelines.stats.metrics.distributions import aligned_counts, proportions
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile


def linf(reference: ColumnProfile, current: ColumnProfile) -> Measurement:
    """The largest absolute difference of one cell's share."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    p, q = proportions(ref_counts), proportions(cur_counts)
    return Measurement(value=float(np.max(np.abs(p - q))))
