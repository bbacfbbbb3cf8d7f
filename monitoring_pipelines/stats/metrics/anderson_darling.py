"""Two-sample Anderson–Darling test (``anderson_darling``).

- Column kinds: numerical.
- Formula: Scholz and Stephens' (1987) right-continuous A²_akN for two samples, which with
  D = F_b − F_c is A² = n·m · Σ_j l_j D(z_j)² / (B_j (N − B_j)) over the
  distinct pooled values z_j (l_j ties, B_j pooled values ≤ z_j); the value is the
  standardised (A² − 1) / σ_N and the p-value scipy's interpolation of the tabled critical
  values, clipped to [0.001, 0.25] — as ``scipy.stats.anderson_ksamp(variant="right")``.
  It weighs the tails (1 / (B (N − B))) where KS and Cramér–von Mises weigh them little.
- On profiles each bin's pooled positions j are known exactly, D inside a bin is taken as
  linear (its bin mean (d_i² + d_i·d_{i+1} + d_{i+1}²) / 3), and ``detail["error_bound"]``
  is the largest possible |raw − binned| on the standardised scale: inside bin i the raw D
  lies in [d_i − q_i, d_i + p_i] (``metrics/bounds.py``), so the raw A² lies between the
  sums with min D² and max D² over those ranges, each bin weighted by Σ_j 1/(j (N − j)).
  Like the Cramér–von Mises bound it grows with the window. Discrete columns (exact value
  counts on both sides) are exact: bound 0.
- On raw samples (``stats.drift.score``) it is exactly ``anderson_ksamp(variant="right")``.
- Range: standardised A² in (−∞, ∞), large when the samples differ; p in [0.001, 0.25].
  Symmetric. A test: drift when p < threshold, default threshold 0.05.

| p-value        | status   |
|----------------|----------|
| ≥ 0.05         | stable   |
| 0.001 – 0.05   | drifting |
| < 0.001        | critical |
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats

from monitoring_pipelines.stats.metrics.bounds import cdf_difference_range
from monitoring_pipelines.stats.metrics.distributions import aligned_counts, exact_values
from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.profile import NumericalProfile

# Scholz and Stephens (1987), Table 2, for k − 1 = 1 (scipy's interpolation coefficients)
B0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
B1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
B2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
LEVELS = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])


def anderson_darling(reference: NumericalProfile, current: NumericalProfile) -> Measurement:
    """Standardised A² of the binned CDFs (exact on discrete columns), p-value, error bound."""
    ref_counts, cur_counts = aligned_counts(reference, current)  # value cells when exact
    n, m = float(ref_counts.sum()), float(cur_counts.sum())
    total = n + m
    if total < 4:
        return undefined("the Anderson–Darling variance needs at least four values")
    pooled = ref_counts + cur_counts
    after = np.cumsum(pooled)
    d = np.cumsum(ref_counts) / n - np.cumsum(cur_counts) / m
    factor = n * m
    if exact_values(reference, current):
        inner = (after > 0) & (after < total)
        a2 = factor * np.sum(
            pooled[inner] * d[inner] ** 2 / (after[inner] * (total - after[inner]))
        )
        bound = 0.0
    else:
        start = np.concatenate(([0.0], d[:-1]))
        weight = _position_weights(after - pooled, pooled, total)
        a2 = factor * np.sum(weight * (start**2 + start * d + d**2) / 3.0)
        smallest, largest = cdf_difference_range(ref_counts, cur_counts)
        low, high = factor * np.sum(weight * smallest**2), factor * np.sum(weight * largest**2)
        bound = max(high - a2, a2 - low, 0.0)
    sigma = math.sqrt(_variance(n, m))
    statistic = float((a2 - 1.0) / sigma)
    return Measurement(
        value=statistic, p_value=_p_value(statistic), detail={"error_bound": float(bound / sigma)}
    )


def anderson_darling_raw(reference: np.ndarray, current: np.ndarray) -> Measurement:
    """Exact two-sample Anderson–Darling (``scipy.stats.anderson_ksamp(variant="right")``)."""
    if reference.size + current.size < 4 or np.unique(np.append(reference, current)).size < 2:
        return undefined("the raw-sample test needs four values and two distinct ones")
    with warnings.catch_warnings():  # the p-value is clipped to the table: documented above
        warnings.simplefilter("ignore", UserWarning)
        result = stats.anderson_ksamp([reference, current], variant="right")
    return Measurement(value=float(result.statistic), p_value=float(result.pvalue))


def _position_weights(before: np.ndarray, count: np.ndarray, total: float) -> np.ndarray:
    """Σ 1/(j (N − j)) over each bin's pooled positions j = before + 1 … before + count
    (j ≤ N − 1), by 1/(j (N − j)) = (1/j + 1/(N − j)) / N and digamma differences."""
    lo = before + 1.0
    hi = np.minimum(before + count, total - 1.0)
    empty = hi < lo
    lo, hi = np.where(empty, 1.0, lo), np.where(empty, 1.0, hi)
    forward = special.digamma(hi + 1.0) - special.digamma(lo)
    backward = special.digamma(total - lo + 1.0) - special.digamma(total - hi)
    return np.where(empty, 0.0, (forward + backward) / total)


def _variance(n: float, m: float) -> float:
    """Var(A²_kN) for k = 2 samples (Scholz and Stephens 1987, as scipy computes it)."""
    k, total = 2.0, n + m
    harmonic = 1.0 / n + 1.0 / m
    h = float(special.digamma(total) + np.euler_gamma)  # Σ_{i=1}^{N−1} 1/i
    tail = np.cumsum(1.0 / np.arange(total - 1, 1, -1))
    g = float(np.sum(tail / np.arange(2, total)))
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * harmonic
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * harmonic - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * harmonic + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    return (a * total**3 + b * total**2 + c * total + d) / (
        (total - 1.0) * (total - 2.0) * (total - 3.0)
    )


def _p_value(statistic: float) -> float:
    """scipy's p-value: log-quadratic interpolation of the critical values, clipped."""
    critical = B0 + B1 + B2  # m = k − 1 = 1
    if statistic < critical.min():
        return float(LEVELS.max())
    if statistic > critical.max():
        return float(LEVELS.min())
    return float(math.exp(np.polyval(np.polyfit(critical, np.log(LEVELS), 2), statistic)))
