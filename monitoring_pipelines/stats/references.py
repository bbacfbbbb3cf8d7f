"""What a window's drift is measured against: the training baseline, or stored production hours.

``training`` (the default, always scored) is the baseline fitted on the reference data. A
production reference is a span of stored hours merged into one profile; hourly profiles share
the baseline's bins and categories and merge exactly, so the merge equals profiling the raw
rows of those hours (no log is read again):

- ``last_week``: the window shifted back seven days (the same hours one week earlier);
- ``previous_day``: the 24 hours before the window starts (for a day, the day before);
- ``window``: a fixed span [start, end), e.g. the launch week.

A reference may be limited to some columns and metrics (a rule of ``monitors.yaml``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

TRAINING = "training"
LAST_WEEK = "last_week"
PREVIOUS_DAY = "previous_day"
FIXED_WINDOW = "window"
KINDS = (TRAINING, LAST_WEEK, PREVIOUS_DAY, FIXED_WINDOW)


@dataclass(frozen=True)
class Reference:
    """One reference of a deployment: its stored name, kind, fixed span and scope."""

    name: str
    kind: str
    start: datetime | None = None
    end: datetime | None = None
    columns: frozenset[str] | None = None
    metrics: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reference kind {self.kind!r} (valid: {', '.join(KINDS)})")
        fixed = self.start is not None and self.end is not None
        if (self.kind == FIXED_WINDOW) != fixed:
            raise ValueError(f"reference {self.name!r}: start and end are for kind window only")
        if fixed and self.end <= self.start:
            raise ValueError(f"reference {self.name!r}: end must be after start")

    @property
    def production(self) -> bool:
        """True when the reference is made of stored production hours."""
        return self.kind != TRAINING

    def bounds(self, window_start: datetime, window_end: datetime) -> tuple[datetime, datetime]:
        """The production span [start, end) compared with the window [window_start, window_end)."""
        if self.kind == LAST_WEEK:
            return window_start - timedelta(days=7), window_end - timedelta(days=7)
        if self.kind == PREVIOUS_DAY:
            return window_start - timedelta(days=1), window_start
        if self.kind == FIXED_WINDOW:
            return self.start, self.end
        raise ValueError("the training reference is the baseline, not a span of hours")

    def metrics_for(self, column: str, metrics: Collection[str]) -> list[str]:
        """The metrics of ``column`` scored against this reference (its scope applied)."""
        if self.columns is not None and column not in self.columns:
            return []
        return [m for m in metrics if self.metrics is None or m in self.metrics]


def describe_span(name: str, start: datetime, end: datetime) -> str:
    """``last_week (2026-11-24 10:00 to 11:00 UTC)``: a reference and the hours it holds."""
    shown = f"{end:%H:%M}" if end - start < timedelta(days=1) else f"{end:%Y-%m-%d %H:%M}"
    return f"{name} ({start:%Y-%m-%d %H:%M} to {shown} UTC)"
