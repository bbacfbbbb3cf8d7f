"""Two-sample Kolmogorov–Smirnov test (``ks``).

- Column kinds: numerical.
- Formula: D = max_x |F_b(x) − F_c(x)|. On profiles the CDFs are known at the bin
  edges only (outer ±inf bins included, missing values excluded), so D is the
  maximum over the edges; its p-value is the asymptotic two-sided one for the two
  sample sizes, P(D_{n'} ≥ D) with n' = round(n·m / (n + m)), as
  ``scipy.stats.ks_2samp(method="asymp")`` (n' at least 1, so one-row windows
  get a p-value; it is rough for tiny windows, where ``min_rows`` should apply).
- Binned vs raw: the binned D never exceeds the raw D. ``detail["error_bound"]`` is the
  largest amount the raw D can exceed it, from the aggregates alone: inside bin i the
  raw CDF difference lies in [d_i − q_i, d_i + p_i] (d_i its exact value at the bin's
  lower edge, p_i and q_i the two bin shares), so raw D ≤ max_i max(|d_i − q_i|,
  |d_i + p_i|) and the bound is that maximum minus the binned D (``metrics/bounds.py``).
  It is small where every bin holds a small share of both samples, and large where one
  bin holds much of either (a point mass, e.g. zero-inflated data, or a window whose
  values crowd into one bin or beyond the training range).
- Discrete columns (exact value counts on both sides, nothing folded): the CDFs are
  known at every distinct value, so D equals ``scipy.stats.ks_2samp``'s exactly
  (``error_bound`` 0) and the p-value is its ``method="asymp"`` one.
- On raw samples (``stats.drift.score``) it is exactly ``scipy.stats.ks_2samp``.
- Range: D in [0, 1]; p in [0, 1]. Symmetric. A test: drift when p < threshold,
  default threshold 0.05 (before any multiple-testing correction).

| p-value        | status   |
|----------------|----------|
| ≥ 0.05         | stable   |
| 0.001 – 0.05   | drifting |
| < 0.001        | critical |
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from monitoring_pipelines.stats.metrics.bounds import ks_bound
from monitoring_pipelines.stats.metrics.distributions import aligned_counts, exact_values
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import NumericalProfile


def ks(reference: NumericalProfile, current: NumericalProfile) -> Measurement:
    """KS statistic of the binned CDFs, its asymptotic p-value and its error bound."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    n, m = ref_counts.sum(), cur_counts.sum()
    statistic = float(np.max(np.abs(np.cumsum(ref_counts) / n - np.cumsum(cur_counts) / m)))
    p_value = float(stats.kstwo.sf(statistic, max(np.round(n * m / (n + m)), 1.0)))
    exact = exact_values(reference, current)
    bound = 0.0 if exact else ks_bound(ref_counts, cur_counts, statistic)
    return Measurement(
        value=statistic, p_value=min(max(p_value, 0.0), 1.0), detail={"error_bound": bound}
    )


def ks_raw(reference: np.ndarray, current: np.ndarray) -> Measurement:
    """Exact two-sample KS on raw values (``scipy.stats.ks_2samp``, default method)."""
    result = stats.ks_2samp(reference, current)
    return Measurement(value=float(result.statistic), p_value=float(result.pvalue))
