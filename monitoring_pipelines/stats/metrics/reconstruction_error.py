"""Shift of the mean reconstruction error (``reconstruction_error``), the multivariate score.

- Column kinds: numerical; made for the ``__multivariate__`` pseudo-column, whose values
  are each row's PCA reconstruction error (``stats.multivariate``), but it applies to any
  numerical column (then it is a two-sample z statistic of the means).
- Formula: z = |μ_c − μ_b| / σ, with σ² = ``between`` + s_b²/n_b + s_b²/n_c: the
  standard deviation of the difference of two means of n_b and n_c rows (s_b the baseline's
  per-row standard deviation, ddof = 0), plus the variance ``between`` reference chunks that
  row sampling does not explain (time-of-day, batches; 0 by default). At n_c = a reference
  chunk's rows, μ_b ± 3σ is the reference chunks' mean ± 3 σ that NannyML judges by.
- Undefined — value None, status ``undefined`` — when σ is 0 (a constant baseline with
  ``between`` 0) or a side has no finite value.
- Range: [0, ∞), in standard deviations. Default threshold: 3 (NannyML's ± 3 σ); a rise
  (rows that no longer follow the reference's correlations) and a fall both count.

| z          | status   |
|------------|----------|
| < 3        | stable   |
| ≥ 3        | drifting |
"""

from __future__ import annotations

import math

from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.profile import NumericalProfile


def reconstruction_error(
    reference: NumericalProfile, current: NumericalProfile, *, between: float = 0.0
) -> Measurement:
    """Absolute shift of the mean in standard deviations of the difference of the means."""
    if reference.n_finite == 0 or current.n_finite == 0:
        return undefined("no finite values to take a mean from")
    if not (math.isfinite(between) and between >= 0.0):
        raise ValueError(f"reconstruction_error: between must be a variance ≥ 0, got {between!r}")
    variance = reference.std**2
    sigma = math.sqrt(between + variance / reference.n_finite + variance / current.n_finite)
    if not sigma > 0:
        return undefined("the baseline's values are constant and no chunk variance is known")
    shift = current.mean - reference.mean
    return Measurement(
        value=abs(shift) / sigma,
        detail={
            "mean_error": current.mean,
            "reference_mean": reference.mean,
            "sigma": sigma,
            "shift": shift / sigma,
        },
    )
