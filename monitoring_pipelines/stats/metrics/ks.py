"""Two-sample Kolmogorov–Smirnov test (``ks``).

- Column kinds: numerical.
- Formula: D = max_x |F_b(x) − F_c(x)|. On profiles the CDFs are known at the bin
  edges only (outer ±inf bins included, missing values excluded), so D is the
  maximum over the edges; its p-value is the asymptotic two-sided one for the two
  sample sizes, P(D_{n'} ≥ D) with n' = round(n·m / (n + m)), as
  ``scipy.stats.ks_2samp(method="asymp")`` (n' at least 1, so one-row windows
  get a p-value; it is rough for tiny windows, where ``min_rows`` should apply).
- Binned vs raw: the binned D never exceeds the raw D; with the default 40
  quantile bins it stayed within 0.01 of ``scipy.stats.ks_2samp`` (worst 0.0098,
  95 % of cases below 0.006) on normal, lognormal, exponential and bimodal data,
  mean shifts 0–0.5 sd, 1k–100k production rows against 100k baseline rows
  (``benchmarks/binned_accuracy.py``). The error is mostly sampling noise inside a
  bin, largest for small windows. 20 bins erred by up to 0.014, 50 by 0.0093.
- Discrete columns (exact value counts on both sides, nothing folded): the CDFs are
  known at every distinct value, so D equals ``scipy.stats.ks_2samp``'s exactly and the
  p-value is its ``method="asymp"`` one.
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

from monitoring_pipelines.stats.metrics.distributions import aligned_counts
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import NumericalProfile


def ks(reference: NumericalProfile, current: NumericalProfile) -> Measurement:
    """KS statistic of the binned CDFs and its asymptotic p-value."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    n, m = ref_counts.sum(), cur_counts.sum()
    statistic = float(np.max(np.abs(np.cumsum(ref_counts) / n - np.cumsum(cur_counts) / m)))
    p_value = float(stats.kstwo.sf(statistic, max(np.round(n * m / (n + m)), 1.0)))
    return Measurement(value=statistic, p_value=min(max(p_value, 0.0), 1.0))


def ks_raw(reference: np.ndarray, current: np.ndarray) -> Measurement:
    """Exact two-sample KS on raw values (``scipy.stats.ks_2samp``, default method)."""
    result = stats.ks_2samp(reference, current)
    return Measurement(value=float(result.statistic), p_value=float(result.pvalue))
