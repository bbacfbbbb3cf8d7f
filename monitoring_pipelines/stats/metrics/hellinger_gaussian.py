"""Hellinger distance between two Gaussians fitted to the means and standard deviations
(``hellinger_gaussian``): cheap, and blind to shape, only location and spread.

- Column kinds: numerical (finite values; moments are population moments, ddof = 0).
- Formula: H² = 1 − √(2 σ₁ σ₂ / (σ₁² + σ₂²)) · exp(−(μ₁ − μ₂)² / (4 (σ₁² + σ₂²))).
  When both standard deviations are 0 the Gaussians are point masses: H = 0 for
  equal means, 1 otherwise.
- Range: [0, 1]. Symmetric. Default threshold: 0.15. Same bands as ``hellinger``.

| H            | status   |
|--------------|----------|
| < 0.05       | stable   |
| 0.05 – 0.15  | small    |
| 0.15 – 0.3   | moderate |
| 0.3 – 0.5    | large    |
| ≥ 0.5        | severe   |
"""

from __future__ import annotations

import math

from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.profile import NumericalProfile


def hellinger_gaussian(reference: NumericalProfile, current: NumericalProfile) -> Measurement:
    """Hellinger distance between N(μ_b, σ_b²) and N(μ_c, σ_c²)."""
    if reference.n_finite == 0 or current.n_finite == 0:
        return undefined("no finite values to take a mean and standard deviation from")
    return Measurement(
        value=gaussian_hellinger(reference.mean, reference.std, current.mean, current.std)
    )


def gaussian_hellinger(mu1: float, sigma1: float, mu2: float, sigma2: float) -> float:
    """Closed-form Hellinger distance of two normal distributions."""
    variance = sigma1 * sigma1 + sigma2 * sigma2
    if variance == 0:
        return 0.0 if mu1 == mu2 else 1.0
    squared = 1.0 - math.sqrt(2.0 * sigma1 * sigma2 / variance) * math.exp(
        -((mu1 - mu2) ** 2) / (4.0 * variance)
    )
    return math.sqrt(min(max(squared, 0.0), 1.0))
