"""Z-score of the mean shift (``z_score``).

- Column kinds: numerical (finite values).
- Formula: z = |μ_c − μ_b| / σ_b, the shift of the production mean in baseline
  standard deviations (population std, ddof = 0).
- Undefined — value None, status ``undefined``, never 0 and never an error — when
  the baseline standard deviation is 0 (a constant baseline) or a side has no
  finite value.
- Range: [0, ∞). Not symmetric (scaled by the baseline). Default threshold: 0.5.

| z            | status   |
|--------------|----------|
| < 0.5        | stable   |
| 0.5 – 1.5    | moderate |
| 1.5 – 3.0    | large    |
| ≥ 3.0        | extreme  |
"""

from __future__ import annotations

from monitoring_pipelines.stats.metrics.measurement import Measurement, undefined
from monitoring_pipelines.stats.profile import NumericalProfile


def z_score(reference: NumericalProfile, current: NumericalProfile) -> Measurement:
    """Absolute mean shift in baseline standard deviations."""
    if reference.n_finite == 0 or current.n_finite == 0:
        return undefined("no finite values to take a mean from")
    std = reference.std
    if not std > 0:
        return undefined("baseline standard deviation is 0 (constant baseline)")
    shift = current.mean - reference.mean
    return Measurement(value=abs(shift) / std, detail={"mean_shift": shift})
