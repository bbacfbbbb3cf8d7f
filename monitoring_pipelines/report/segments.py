"""The report's segment selector: each segment's drift (and performance) beside the
population's, one panel per segment, a plain ``<select>`` and a few lines of inline script
that show the chosen panel (no external asset: the report stays one self-contained file).

A panel's numbers are the stored ones (``drift_scores`` of the period's hours, segment and
population; ``model_performance`` averaged over the hours weighted by labelled rows), each
cell carrying the full number in ``data-value`` beside the rounded text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from monitoring_pipelines.stats.drift import INSUFFICIENT_DATA, UNDEFINED, DriftResult
from monitoring_pipelines.stats.metrics.registry import get_spec

NOT_JUDGED = {INSUFFICIENT_DATA, UNDEFINED}


@dataclass(frozen=True)
class Worst:
    """A column and metric over the period's hours: the worst judged hour's result (None
    when no hour had one), its hour, the hours with a result, and the hours drifted."""

    result: DriftResult | None
    hour: datetime | None
    hours: int
    drifted: int


@dataclass(frozen=True)
class SegmentRow:
    column: str
    metric: str
    segment: Worst
    population: Worst


@dataclass(frozen=True)
class SegmentView:
    """One segment of the period: its hours scored, each column × metric beside the
    population's, how its baseline was chosen, and its performance beside the population's."""

    segment: str
    hours: int
    rows: tuple[SegmentRow, ...]
    baseline: str | None = None  # "segment" (its own reference rows) or "population"
    new_segment: bool = False
    performance: Mapping[str, float] = field(default_factory=dict)
    population_performance: Mapping[str, float] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        return sorted({row.column for row in self.rows if row.segment.drifted})


def shown(result: DriftResult) -> float | None:
    """The number judged: the p-value of a test, the value of a distance."""
    return result.p_value if get_spec(result.metric).decision == "p_value" else result.value


def ratio(result: DriftResult) -> float:
    """How far toward (past, above 1) its threshold a judged result is; -inf unjudged."""
    value = shown(result)
    if result.status in NOT_JUDGED or value is None or math.isnan(value) or not result.threshold:
        return -math.inf
    if get_spec(result.metric).decision == "p_value":
        return result.threshold / max(value, 1e-300)
    return value / result.threshold


def worst_of(hours: Sequence[tuple[datetime, DriftResult]]) -> Worst:
    """The worst judged hour of one column and metric (the latest unjudged one if none)."""
    judged = [(ratio(r), hour, r) for hour, r in hours if ratio(r) > -math.inf]
    drifted = sum(r.drifted for _, r in hours)
    if judged:
        _, hour, result = max(judged, key=lambda item: (item[0], item[1]))
        return Worst(result, hour, len(hours), drifted)
    if hours:
        hour, result = max(hours, key=lambda item: item[0])
        return Worst(result, hour, len(hours), drifted)
    return Worst(None, None, 0, 0)


STYLE = """
.segments select{font:inherit;padding:2px 6px;margin:0 0 10px 6px}
div.segment table{margin-bottom:12px}
"""

SCRIPT = """
(function () {
  var selects = document.querySelectorAll("select.segment-select");
  Array.prototype.forEach.call(selects, function (select) {
    var panels = select.closest("section.segments").querySelectorAll("div.segment");
    function show() {
      for (var i = 0; i < panels.length; i++) {
        panels[i].hidden = panels[i].getAttribute("data-index") !== select.value;
      }
    }
    select.addEventListener("change", show);
    show();
  });
})();
"""


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.4g}"


def _data(value: float | None) -> str:
    """The full number for ``data-value`` (empty when there is none)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value))


def _cell_class(result: DriftResult | None) -> str:
    if result is None or result.status in NOT_JUDGED:
        return "na"
    if result.drifted:
        return "drift"
    return "ok" if result.status == get_spec(result.metric).bands[0][1] else "warn"


def _worst_cells(worst: Worst) -> str:
    result = worst.result
    value = None if result is None else shown(result)
    if result is None:
        tip = "no result"
    else:
        when = f"{worst.hour.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if worst.hour else "–"
        tip = f"{result.status}; threshold {_fmt(result.threshold)}; hour {when}"
    return (
        f'<td class="{_cell_class(result)}" data-value="{_data(value)}" '
        f'title="{escape(tip)}">{_fmt(value)}</td>'
        f'<td data-drifted="{worst.drifted}" data-hours="{worst.hours}">'
        f"{worst.drifted} of {worst.hours}</td>"
    )


def _drift_table(view: SegmentView) -> str:
    name = escape(view.segment)
    body = "".join(
        f'<tr data-column="{escape(row.column)}" data-metric="{escape(row.metric)}">'
        f"<td>{escape(row.column)}</td><td>{escape(row.metric)}"
        f"{' (p)' if get_spec(row.metric).decision == 'p_value' else ''}</td>"
        f"{_worst_cells(row.segment)}{_worst_cells(row.population)}</tr>"
        for row in view.rows
    )
    return (
        '<table class="scores segment-drift"><thead><tr><th>column</th><th>metric</th>'
        f"<th>{name}: worst hour</th><th>hours drifted</th>"
        "<th>population: worst hour</th><th>hours drifted</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _performance_table(view: SegmentView) -> str:
    metrics = sorted(set(view.performance) | set(view.population_performance))
    if not metrics:
        return ""
    body = "".join(
        f'<tr data-metric="{escape(m)}"><td>{escape(m)}</td>'
        f'<td data-value="{_data(view.performance.get(m))}">{_fmt(view.performance.get(m))}</td>'
        f'<td data-value="{_data(view.population_performance.get(m))}">'
        f"{_fmt(view.population_performance.get(m))}</td></tr>"
        for m in metrics
    )
    return (
        '<table class="scores segment-performance"><thead><tr><th>performance</th>'
        f"<th>{escape(view.segment)}</th><th>population</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _baseline_note(view: SegmentView) -> str:
    if view.new_segment:
        return "new since training: the reference has none of its rows (judged on the whole)"
    if view.baseline == "population":
        return "judged against the whole reference"
    if view.baseline == "segment":
        return "judged against the reference rows of the same segment"
    return ""


def segment_section(views: Sequence[SegmentView], prefix: str = "segment") -> str:
    """The section (empty without segments): the selector and one panel per segment, the
    first shown; ``prefix`` keeps ids unique when a page holds several sections."""
    if not views:
        return ""
    select = f"{prefix}-select"
    options, panels = [], []
    for index, view in enumerate(views):
        drifted = view.drifted_columns
        label = f"{view.segment} — {len(drifted)} drifted column(s)"
        options.append(f'<option value="{index}">{escape(label)}</option>')
        note = _baseline_note(view)
        flagged = ", ".join(f'<span class="flag">{escape(c)}</span>' for c in drifted) or "none"
        panels.append(
            f'<div class="segment" id="{prefix}-{index}" data-index="{index}" '
            f'data-segment="{escape(view.segment)}"{" hidden" if index else ""}>'
            f"<h3>{escape(view.segment)}</h3>"
            f'<p class="muted">{view.hours} hours scored; drifted columns: {flagged}'
            f"{'; ' + escape(note) if note else ''}</p>"
            f"{_drift_table(view)}{_performance_table(view)}</div>"
        )
    return (
        f'<section class="segments" id="{prefix}s"><h2>Segments</h2>'
        '<p class="muted">Each segment beside the population, from the stored hourly '
        "drift_scores of the period (the worst hour of each column and metric, and the hours "
        "that drifted) and model_performance (averaged over the hours, weighted by their "
        "labelled rows).</p>"
        f'<label for="{select}">Segment</label><select id="{select}" class="segment-select">'
        f"{''.join(options)}</select>{''.join(panels)}</section>"
    )
