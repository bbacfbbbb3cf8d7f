"""Roll hourly profiles up into longer windows by merging them, so low-traffic models still
get meaningful scores. Merging is exact: a day's profile equals the profile of the day's
raw rows. Windows are keyed by their start; all times are timezone-aware UTC.

Granularities: ``hour``; ``trailing_24h`` (the 24 hours ending with a given hour);
``day`` (calendar day, 00:00 UTC); ``week`` (ISO week, Monday 00:00 UTC).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from monitoring_pipelines.stats.dataset import DatasetProfile

GRANULARITIES = ("hour", "trailing_24h", "day", "week")
HOUR = timedelta(hours=1)


def window_bounds(hour_start: datetime, granularity: str) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of the window of ``granularity`` that
    contains the hour starting at ``hour_start`` (for ``trailing_24h``: that ends with it)."""
    hour = _hour(hour_start)
    if granularity == "hour":
        return hour, hour + HOUR
    if granularity == "trailing_24h":
        return hour - 23 * HOUR, hour + HOUR
    if granularity == "day":
        start = hour.replace(hour=0)
        return start, start + timedelta(days=1)
    if granularity == "week":
        start = hour.replace(hour=0) - timedelta(days=hour.weekday())
        return start, start + timedelta(days=7)
    raise ValueError(f"unknown granularity {granularity!r} (valid: {', '.join(GRANULARITIES)})")


def merge_window(
    hourly: Mapping[datetime, DatasetProfile], start: datetime, end: datetime
) -> DatasetProfile | None:
    """The merge of the hourly profiles with ``start <= hour < end``; None when there are none."""
    start, end = _utc(start), _utc(end)
    inside = sorted((hour, p) for hour, p in hourly.items() if start <= _aware(hour) < end)
    return DatasetProfile.merge_many([p for _, p in inside]) if inside else None


def merge_windows(
    hourly: Mapping[datetime, DatasetProfile], bounds: Sequence[tuple[datetime, datetime]]
) -> list[DatasetProfile | None]:
    """:func:`merge_window` of each (start, end) of ``bounds``; windows holding the same stored
    hours (a day, its week and its trailing 24 h early in a week) are merged once and share
    that profile, which is the same bit for bit."""
    done: dict[tuple[datetime, ...], DatasetProfile | None] = {}
    out = []
    hours = sorted(_aware(hour) for hour in hourly) if bounds else []  # sorted once, bisected
    for start, end in bounds:
        start, end = _utc(start), _utc(end)
        inside = tuple(hours[bisect_left(hours, start) : bisect_left(hours, end)])
        if inside and inside not in done:
            done[inside] = DatasetProfile.merge_many([hourly[h] for h in inside])
        out.append(done[inside] if inside else None)
    return out


def roll_up(
    hourly: Mapping[datetime, DatasetProfile], granularity: str
) -> dict[datetime, DatasetProfile]:
    """Merged profile per window start: one window per hour for ``hour`` and
    ``trailing_24h``, one per calendar day or week that holds any of the hours."""
    bounds = sorted({window_bounds(hour, granularity) for hour in hourly})
    return {start: merge_window(hourly, start, end) for start, end in bounds}


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"window times must be timezone-aware (UTC), got naive {moment}")
    return moment.astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    """``moment`` itself, checked to be timezone-aware (it compares with UTC times as is)."""
    if moment.tzinfo is None:
        raise ValueError(f"window times must be timezone-aware (UTC), got naive {moment}")
    return moment


def _hour(moment: datetime) -> datetime:
    moment = _utc(moment)
    if moment != moment.replace(minute=0, second=0, microsecond=0):
        raise ValueError(f"hourly windows start on the hour, got {moment.isoformat()}")
    return moment
