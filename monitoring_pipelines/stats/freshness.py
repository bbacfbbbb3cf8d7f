"""Data freshness of one hour: silence is a signal, so an hour with no rows, or far fewer rows
than that hour of the day usually has, is a status of its own rather than a quiet, healthy
hour with every metric ``insufficient_data``.

Statuses:

- ``no_data``: the hour has 0 rows (``no log file`` when the source knows none was written);
- ``low_volume``: fewer than ``min_fraction`` (default 0.1) of the usual volume;
- ``fresh``: otherwise, or when there is no history to judge the volume against.

The usual volume of an hour is learned from the stored hours before it: the median row
count of the same hour of day over the last ``history_days`` days (at least
``min_same_hour`` of them), else the median of every stored hour of those days. Hours with
0 rows are left out: an outage is not the usual volume. The three numbers are a
:class:`FreshnessPolicy` (``freshness:`` in monitors.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

FRESH, LOW_VOLUME, NO_DATA = "fresh", "low_volume", "no_data"
HISTORY_DAYS = 7
MIN_SAME_HOUR = 3
MIN_FRACTION = 0.1


@dataclass(frozen=True)
class FreshnessPolicy:
    """How a quiet hour is told from a usual one."""

    min_fraction: float = MIN_FRACTION
    history_days: int = HISTORY_DAYS
    min_same_hour: int = MIN_SAME_HOUR

    def __post_init__(self) -> None:
        if isinstance(self.min_fraction, bool) or not (
            isinstance(self.min_fraction, int | float)
            and math.isfinite(self.min_fraction)
            and 0 < self.min_fraction < 1
        ):
            raise ValueError(f"min_fraction must be between 0 and 1, got {self.min_fraction!r}")
        for name in ("history_days", "min_same_hour"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


DEFAULT_POLICY = FreshnessPolicy()


@dataclass(frozen=True)
class Freshness:
    """One hour's freshness: its status, its rows, the usual rows (None: unknown), why."""

    status: str
    rows: int
    expected_rows: float | None
    reason: str

    @property
    def fresh(self) -> bool:
        return self.status == FRESH


def expected_rows(
    history: Mapping[datetime, int], hour: datetime, policy: FreshnessPolicy = DEFAULT_POLICY
) -> float | None:
    """The usual row count of ``hour`` from the stored hours of the days before it."""
    since = hour - timedelta(days=policy.history_days)
    recent = {h: n for h, n in history.items() if since <= h < hour and n > 0}
    same_hour = [n for h, n in recent.items() if h.hour == hour.hour]
    if len(same_hour) >= policy.min_same_hour:
        return float(median(same_hour))
    return float(median(recent.values())) if recent else None


def judge_freshness(
    rows: int,
    expected: float | None,
    has_files: bool | None = None,
    policy: FreshnessPolicy = DEFAULT_POLICY,
) -> Freshness:
    """The status of an hour with ``rows`` rows when ``expected`` are usual; ``has_files``
    False says the source found no file for it (None: the source cannot tell)."""
    if rows == 0:
        reason = "no log file for the hour" if has_files is False else "0 rows in the hour"
        return Freshness(NO_DATA, 0, expected, reason)
    if expected is not None and rows < policy.min_fraction * expected:
        reason = f"{rows} rows, below {policy.min_fraction:.0%} of the usual {expected:.0f}"
        return Freshness(LOW_VOLUME, rows, expected, reason)
    return Freshness(FRESH, rows, expected, f"{rows} rows")
