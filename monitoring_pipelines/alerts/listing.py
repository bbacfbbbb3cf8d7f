"""A plain-text table of recent outbox rows, for ``monitoring-pipelines alerts`` and the demo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

HEADERS = ("id", "deployment", "window (UTC)", "kind", "severity", "column", "metric", "value",
           "slack", "cloudwatch")  # fmt: skip


def _status(row: Mapping[str, Any], channel: str) -> str:
    status = row[f"{channel}_status"]
    attempts = row[f"{channel}_attempts"]
    return f"{status} ×{attempts}" if attempts > 1 else status


def alert_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    """One row of the table: what the alert is and where each channel stands."""
    window = row["window_start"]
    return (
        str(row["id"]),
        row["deployment_id"],
        "" if window is None else f"{window:%Y-%m-%d %H:%M}",
        row["kind"],
        row["severity"],
        row["column_name"] or "",
        row["metric"] or "",
        "" if row["value"] is None else f"{row['value']:.4g}",
        _status(row, "slack"),
        _status(row, "cloudwatch"),
    )


def format_alerts(rows: Sequence[Mapping[str, Any]]) -> str:
    """Aligned columns, one outbox row per line; a clear line when there is nothing."""
    if not rows:
        return "no alerts in the outbox"
    table = [HEADERS, *(alert_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )
