"""The one results table every benchmark part adds rows to, printed and saved as Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HEADER = ("Part", "Measurement", "Figure", "Ratio", "Target", "Met")


@dataclass(frozen=True)
class Row:
    """One measured figure; ``met`` is None when the row has no target."""

    part: str
    what: str
    figure: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


def markdown(rows: Sequence[Row]) -> str:
    """A GitHub-flavoured Markdown table of the rows (a ``|`` in a cell is escaped)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        cells = (row.part, row.what, row.figure, row.ratio, row.target, met)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def best_of(seconds: Sequence[float]) -> float:
    """The fastest repeat: the run least disturbed by the rest of the machine."""
    return min(seconds)
