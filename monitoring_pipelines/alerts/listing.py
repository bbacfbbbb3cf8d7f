"""Plain-text tables of outbox rows, for ``monitoring-pipelines alerts`` / ``redeliver`` and
the demo. The ``segment`` column names a segment's alert (``region=eu``) and stays blank for
the population's (``__all__``) and for kinds that have no segment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitoring_pipelines.stats.segments import ALL

HEADERS = ("id", "deployment", "window (UTC)", "kind", "severity", "column", "metric",
           "reference", "segment", "value", "slack", "cloudwatch", "note")  # fmt: skip
NOTE_CHARS = 70


def _status(row: Mapping[str, Any], channel: str) -> str:
    status = row[f"{channel}_status"]
    attempts = row[f"{channel}_attempts"]
    return f"{status} ×{attempts}" if attempts > 1 else status


def _note(row: Mapping[str, Any]) -> str:
    """The notice text, or why the row's channel has not delivered it (its last error)."""
    channel = "cloudwatch" if row["kind"] == "metrics" else "slack"
    if row["kind"] == "notice":
        text = row["reason"] or ""
    elif row[f"{channel}_status"] != "sent":
        text = row[f"{channel}_last_error"] or ""
    else:
        text = ""
    text = " ".join(text.split())
    return text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"


def _segment(row: Mapping[str, Any]) -> str:
    """A segment's name; blank for the population (and rows written before segments)."""
    segment = row.get("segment")
    return "" if segment in (None, ALL) else segment


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
        row.get("reference") or "",
        _segment(row),
        "" if row["value"] is None else f"{row['value']:.4g}",
        _status(row, "slack"),
        _status(row, "cloudwatch"),
        _note(row),
    )


def format_alerts(rows: Sequence[Mapping[str, Any]]) -> str:
    """Aligned columns, one outbox row per line; a clear line when there is nothing."""
    if not rows:
        return "no alerts in the outbox"
    return aligned([HEADERS, *(alert_cells(row) for row in rows)])


def aligned(table: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def format_redelivery(result) -> str:
    """What ``redeliver`` chose, requeued and delivered (a :class:`Redelivery`)."""
    if not result.chosen:
        return "no outbox rows match: nothing to redeliver"
    lines = [f"{len(result.chosen)} row(s) chosen: {', '.join(map(str, result.chosen))}"]
    for channel, ids in result.requeued.items():
        listed = f" ({', '.join(map(str, ids))})" if ids else ""
        lines.append(f"{channel}: {len(ids)} requeued{listed}")
    if result.report is None:
        lines.append("not sent (--no-send): the alert job or the next redeliver sends them")
        return "\n".join(lines)
    for channel, counts in result.report.rows.items():
        shown = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
        lines.append(f"{channel}: {shown or 'nothing delivered'}")
    lines.extend(f"error: {error}" for error in result.report.errors[:5])
    return "\n".join(lines)
