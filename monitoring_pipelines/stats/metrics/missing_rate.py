"""Change in the share of missing values (``missing_rate``).

Missing values are not part of any distribution metric, so a column that starts
arriving empty needs its own signal; this is it.

- Column kinds: numerical, categorical. Sizes are rows (missing included), so an
  all-missing production window is scored (rate 1), not "insufficient data".
- Formula: |m_c / r_c − m_b / r_b|, m = missing values (for numerical columns,
  non-numeric values count as missing too), r = rows.
- Range: [0, 1]. Symmetric. Default threshold: 0.05 (five percentage points).

| change       | status      |
|--------------|-------------|
| < 0.05       | stable      |
| 0.05 – 0.15  | moderate    |
| ≥ 0.15       | significant |
"""

from __future__ import annotations

from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import ColumnProfile


def missing_rate(reference: ColumnProfile, current: ColumnProfile) -> Measurement:
    """Absolute change of the missing share between the baseline and the window."""
    reference_rate, current_rate = missing_share(reference), missing_share(current)
    return Measurement(
        value=abs(current_rate - reference_rate),
        detail={"missing_rate_reference": reference_rate, "missing_rate_current": current_rate},
    )


def missing_share(profile: ColumnProfile) -> float:
    """Share of rows without a usable value (0 for a profile of no rows)."""
    rows = profile.rows
    return (rows - profile.count) / rows if rows else 0.0
