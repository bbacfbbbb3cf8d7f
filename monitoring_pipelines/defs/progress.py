"""The per-hour progress line an hourly asset logs (``[3/24] credit_risk 2026-11-09 02:00: …``)
and its parser: how ``monitoring-pipelines backfill`` follows a single-run backfill."""

from __future__ import annotations

import re
from datetime import datetime

PROGRESS = re.compile(r"^\[(?P<index>\d+)/(?P<total>\d+)\] ")


def progress_line(index: int, total: int, deployment_id: str, start: datetime, detail: str) -> str:
    """The message logged when the ``index``-th of ``total`` hours of a run is done."""
    return f"[{index}/{total}] {deployment_id} {start:%Y-%m-%d %H:%M}: {detail}"


def parse_progress(message: str) -> tuple[int, int] | None:
    """(index, total) of a progress line, or None for any other message."""
    match = PROGRESS.match(message)
    return None if match is None else (int(match["index"]), int(match["total"]))
