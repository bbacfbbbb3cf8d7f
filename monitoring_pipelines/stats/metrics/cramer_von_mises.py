"""Two-sample Cramér–von Mises test (``cramer_von_mises``).

- Column kinds: numerical.
- Formula: T = (n·m / N²) Σ_z (F_b(z) − F_c(z))² over the N = n + m pooled values z (the
  statistic of ``scipy.stats.cramervonmises_2samp``); p-value from its asymptotic
  distribution (T normalised by its exact mean and variance, as scipy's
  ``method="asymptotic"``), so it weighs the whole CDF difference, not only its maximum.
- On profiles the pooled values of bin i (its c_i = n_i + m_i counts) are taken as spread
  evenly, so D = F_b − F_c is linear from d_i to d_{i+1} across the bin and each adds
  (d_i² + d_i·d_{i+1} + d_{i+1}²) / 3. ``detail["error_bound"]`` is the largest possible
  |raw T − binned T|: inside bin i the raw D lies in [d_i − q_i, d_i + p_i]
  (``metrics/bounds.py``), so the raw T lies between (n·m / N²) Σ c_i·min D² and
  (n·m / N²) Σ c_i·max D² over those ranges (the tie-free statistic). The bound grows
  with the window (T does: it is about m·∫D² dH), so it is loose in absolute terms.
  Discrete columns (exact value counts on both sides) are exact, with scipy's midranks for
  ties: bound 0.
- On raw samples (``stats.drift.score``) it is exactly ``scipy.stats.cramervonmises_2samp``.
- Range: T in [0, ∞); p in [0, 1]. Symmetric. A test: drift when p < threshold, default
  threshold 0.05 (before any multiple-testing correction).

| p-value        | status   |
|----------------|----------|
| ≥ 0.05         | stable   |
| 0.001 – 0.05   | drifting |
| < 0.001        | critical |
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from monitoring_pipelines.stats.metrics.bounds import cdf_difference_range
from monitoring_pipelines.stats.metrics.distributions import aligned_counts, exact_values
from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.profile import NumericalProfile


def cramer_von_mises(reference: NumericalProfile, current: NumericalProfile) -> Measurement:
    """T of the binned CDFs (exact on discrete columns), its p-value and its error bound."""
    ref_counts, cur_counts = aligned_counts(reference, current)  # value cells when exact
    if exact_values(reference, current):
        statistic, bound = _tied_statistic(ref_counts, cur_counts), 0.0
    else:
        statistic, bound = _binned_statistic(ref_counts, cur_counts)
    n, m = float(ref_counts.sum()), float(cur_counts.sum())
    return Measurement(
        value=statistic, p_value=_p_value(statistic, n, m), detail={"error_bound": bound}
    )


def _binned_statistic(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """T with the pooled values of each bin spread evenly, and the bound on the raw T."""
    d = np.concatenate(([0.0], np.cumsum(ref_counts) / ref_counts.sum()))
    d -= np.concatenate(([0.0], np.cumsum(cur_counts) / cur_counts.sum()))
    a, b = d[:-1], d[1:]
    weight = ref_counts + cur_counts
    statistic = float(np.sum(weight * (a * a + a * b + b * b) / 3.0))
    smallest, largest = cdf_difference_range(ref_counts, cur_counts)
    low, high = np.sum(weight * smallest**2), np.sum(weight * largest**2)
    bound = float(max(high - statistic, statistic - low, 0.0))
    scale = ref_counts.sum() * cur_counts.sum() / (ref_counts.sum() + cur_counts.sum()) ** 2
    return float(statistic * scale), float(bound * scale)


def _tied_statistic(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """scipy's T from value counts: U = n Σ (r_i − i)² + m Σ (s_j − j)² with midranks r, s
    of tied values, each value's run of positions i summed in closed form."""
    n, m = ref_counts.sum(), cur_counts.sum()
    pooled_before = np.cumsum(ref_counts + cur_counts) - (ref_counts + cur_counts)
    midrank = pooled_before + (ref_counts + cur_counts + 1) / 2.0
    u = 0.0
    for counts, size in ((ref_counts, n), (cur_counts, m)):
        before = np.cumsum(counts) - counts
        c, a = midrank - before, counts  # Σ_{j=1..a} (c − j)²
        u += size * np.sum(a * c * c - c * a * (a + 1) + a * (a + 1) * (2 * a + 1) / 6.0)
    k, total = n * m, n + m
    return float(u / (k * total) - (4 * k - 1) / (6 * total))


def cramer_von_mises_raw(reference: np.ndarray, current: np.ndarray) -> Measurement:
    """Exact two-sample Cramér–von Mises (``scipy.stats.cramervonmises_2samp``)."""
    if reference.size < 2 or current.size < 2:
        return undefined("the raw-sample test needs at least two values on each side")
    result = stats.cramervonmises_2samp(reference, current)
    return Measurement(value=float(result.statistic), p_value=float(result.pvalue))


def _p_value(t: float, n: float, m: float) -> float:
    """Asymptotic p-value of T (Anderson 1962: T normalised by its exact mean and variance,
    the one-sample limiting distribution of Csörgő and Faraway 1996)."""
    k, total = n * m, n + m
    mean = (1.0 + 1.0 / total) / 6.0
    variance = (total + 1.0) * (4.0 * k * total - 3.0 * (n * n + m * m) - 2.0 * k)
    variance /= 45.0 * total * total * 4.0 * k
    normalised = 1.0 / 6.0 + (t - mean) / math.sqrt(45.0 * variance) if variance > 0 else 0.0
    if normalised < 0.003:
        return 1.0
    return float(min(max(1.0 - _limit_cdf(normalised), 0.0), 1.0))


def _limit_cdf(x: float) -> float:
    """CDF of the limiting Cramér–von Mises distribution (Csörgő and Faraway 1996, eq. 1.2)."""
    total, k = 0.0, 0
    while True:
        y = 4 * k + 1
        q = y * y / (16.0 * x)
        u = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (
            math.pi**1.5 * math.sqrt(x)
        )
        term = u * math.sqrt(y) * math.exp(-q) * float(special.kv(0.25, q))
        total += term
        k += 1
        if abs(term) < 1e-7 or k > 200:  # scipy's stopping rule
            return total
