"""The progress line an hourly asset logs (``[3/24] credit_risk 2026-11-09 02:00: …``) and its
parser: how ``monitoring-pipelines backfill`` follows a single-run backfill.

Every log line of a run is a row written to Dagster's event log (one commit each), so a
long run logs at most about ``PROGRESS_LINES`` of them, evenly spaced, and always the last.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

PROGRESS = re.compile(r"^\[(?P<index>\d+)/(?P<total>\d+)\] ")
PROGRESS_LINES = 48


def progress_line(index: int, total: int, deployment_id: str, start: datetime, detail: str) -> str:
    """The message logged when the ``index``-th of ``total`` hours of a run is done."""
    return f"[{index}/{total}] {deployment_id} {start:%Y-%m-%d %H:%M}: {detail}"


def parse_progress(message: str) -> tuple[int, int] | None:
    """(index, total) of a progress line, or None for any other message."""
    match = PROGRESS.match(message)
    return None if match is None else (int(match["index"]), int(match["total"]))


class ProgressLog:
    """Logs a run's progress lines: every hour of a run of up to ``PROGRESS_LINES`` hours,
    else one line per ``ceil(total / PROGRESS_LINES)`` hours done, and always the last."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._logged = 0

    def __call__(
        self, index: int, total: int, deployment_id: str, start: datetime, detail: str
    ) -> None:
        if index == total or index - self._logged >= -(-total // PROGRESS_LINES):
            self._logged = index
            self._log(progress_line(index, total, deployment_id, start, detail))
