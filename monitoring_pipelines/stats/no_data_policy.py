"""Which quiet hours (``stats.freshness``: ``no_data``, ``low_volume``) become ``no_data``
alerts: the first of a deployment, then at most one per cooldown (in window time, like drift
alerts, so backfills and replays decide alike); an hour not after the last alert never alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitoring_pipelines.stats.freshness import NO_DATA, Freshness

DEFAULT_COOLDOWN = timedelta(hours=6)


@dataclass(frozen=True)
class QuietHour:
    """One hour judged not fresh."""

    deployment_id: str
    window_start: datetime
    window_end: datetime
    freshness: Freshness

    @property
    def severity(self) -> str:
        return "critical" if self.freshness.status == NO_DATA else "warning"

    @property
    def dedup_key(self) -> str:
        return f"{self.deployment_id}|hour|{self.window_start.isoformat()}|no_data"


def decide_no_data(
    hours: Iterable[QuietHour],
    last_alerted: Mapping[str, datetime],
    cooldown: Mapping[str, timedelta],
) -> tuple[list[QuietHour], list[QuietHour]]:
    """(alerted, held back by the cooldown) among ``hours``, given each deployment's last
    ``no_data`` alert (window start) and its cooldown."""
    last = dict(last_alerted)
    alerted, held = [], []
    for hour in sorted(hours, key=lambda h: (h.window_start, h.deployment_id)):
        previous = last.get(hour.deployment_id)
        wait = cooldown.get(hour.deployment_id, DEFAULT_COOLDOWN)
        if previous is not None and (
            hour.window_start <= previous or hour.window_start - previous < wait
        ):
            held.append(hour)
            continue
        alerted.append(hour)
        last[hour.deployment_id] = hour.window_start
    return alerted, held
