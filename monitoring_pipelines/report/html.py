"""One self-contained HTML file per report: summary, column × metric table, and per column the
distribution (baseline vs production) and the hourly score against its threshold.

No network is needed to open it: the Vega bundle is inlined and a Content-Security-Policy of
``default-src 'none'`` forbids every request. Text from data (column and category names,
titles) is HTML-escaped; chart data travels as JSON inside a ``<script type="application/json">``
with ``<``, ``>`` and ``&`` escaped, so no value can close the element or run as script.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from html import escape

from monitoring_pipelines.report.charts import distribution, score_history
from monitoring_pipelines.report.model import (
    DriftReport,
    Report,
    SplitReport,
    cell_class,
    severity,
    shown_value,
)
from monitoring_pipelines.report.segments import SCRIPT as SEGMENT_SCRIPT
from monitoring_pipelines.report.segments import STYLE as SEGMENT_STYLE
from monitoring_pipelines.report.segments import segment_section
from monitoring_pipelines.report.vega import javascript_bundle
from monitoring_pipelines.stats.metrics.registry import get_spec

CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:"
)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
h3{font-size:15px;margin:0 0 6px}.muted{color:#666}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;color:#fff}
.badge.drift{background:#c62828}.badge.stable{background:#2e7d32}
.badge.insufficient_data{background:#757575}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:4px 16px}
dl.summary dt{color:#555}dl.summary dd{margin:0}
table.scores{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.scores th,table.scores td{border:1px solid #ddd;padding:3px 8px;text-align:right}
table.scores th:first-child,table.scores td:first-child{text-align:left}
td.drift{background:#f8d0d0;font-weight:600}td.warn{background:#fdebc8}
td.ok{background:#e3f2e1}td.na{background:#eee;color:#777}
tr.drifted td:first-child{font-weight:600}
.flag{color:#c62828;font-weight:600}
section.column{border-top:1px solid #ddd;padding:12px 0}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
p.note{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px;max-width:960px}
section.part{border-top:3px solid #888;margin-top:28px}h3.sub{font-size:16px;margin:20px 0 8px}
ul.parts{margin:0;padding-left:18px}
"""

SCRIPT = """
(function () {
  var payload = JSON.parse(document.getElementById("report-data").textContent);
  var queue = payload.charts.slice(), errors = 0;
  function next() {
    var item = queue.shift();
    if (!item) { document.body.setAttribute("data-rendered", errors ? "errors" : "done"); return; }
    vegaEmbed(document.getElementById(item.id), item.spec, {actions: false, renderer: "canvas"})
      .catch(function (error) { errors += 1; console.error("chart " + item.id + ": " + error); })
      .then(function () { setTimeout(next, 0); });
  }
  next();
})();
"""


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.4g}"


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no </script>, no <!--)."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def _drifted_list(drifted: list[str], total: int) -> str:
    if not drifted:
        return f"0 of {total}"
    flagged = ", ".join(f'<span class="flag">{escape(c)}</span>' for c in drifted)
    return f"{len(drifted)} of {total}: {flagged}"


def _version(report: DriftReport) -> str:
    version = report.version
    if version is None:
        return "–"
    if version.latest:
        return escape(version.label())
    return escape(version.label()) + (
        " — an older version: these hours were profiled against it before a retraining, "
        "so they are judged against it"
    )


def _summary(report: DriftReport) -> str:
    drifted = report.drifted
    hours = report.hours if report.hours is not None else len(report.history)
    rows = [
        ("status", _badge(report.status)),
        ("period", f"{_when(report.start)} → {_when(report.end)}"),
        ("hours scored", str(hours) if hours else "–"),
        ("rows (production)", f"{report.current.row_count:,}"),
        ("rows (baseline)", f"{report.baseline.row_count:,}"),
        *([("baseline version", _version(report))] if report.version is not None else []),
        ("drifted columns", _drifted_list(drifted, len(report.scores))),
    ]
    signals = report.signals
    if signals is not None:
        if signals.prediction_drift is not None:
            p = signals.prediction_drift
            flag = ' <span class="flag">drifted</span>' if p.drifted else ""
            rows.append(
                (
                    "model drift (predictions)",
                    f"{escape(p.metric)} {_fmt(p.value)} (threshold {_fmt(p.threshold)}){flag}",
                )
            )
        if signals.mean_confidence is not None:
            rows.append(
                (
                    "mean confidence",
                    f"{_fmt(signals.mean_confidence)} (baseline "
                    f"{_fmt(signals.baseline_mean_confidence)}, "
                    f"drop {_fmt(signals.confidence_drop)})",
                )
            )
        if signals.low_confidence_share is not None:
            rows.append(
                (
                    f"share below confidence {_fmt(signals.low_confidence_threshold)}",
                    f"{_fmt(signals.low_confidence_share)} (baseline "
                    f"{_fmt(signals.baseline_low_confidence_share)})",
                )
            )
    for metric, value in report.performance.items():
        rows.append((f"performance: {escape(metric)}", _fmt(value)))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="summary">{items}</dl>'


def _table(report: DriftReport) -> str:
    metrics: list[str] = []
    for results in report.scores.values():
        for r in results:
            if r.metric not in metrics:
                metrics.append(r.metric)
    head = "".join(
        f"<th>{escape(m)}{' (p)' if get_spec(m).decision == 'p_value' else ''}</th>"
        for m in metrics
    )
    body = []
    ordered = sorted(report.scores, key=lambda c: -severity(report.scores[c]))
    for column in ordered:
        by_metric = {r.metric: r for r in report.scores[column]}
        cells = []
        for metric in metrics:
            r = by_metric.get(metric)
            if r is None:
                cells.append('<td class="na"></td>')
                continue
            tip = escape(f"{r.status}; threshold {_fmt(r.threshold)}; n={r.current_size}")
            cells.append(f'<td class="{cell_class(r)}" title="{tip}">{_fmt(shown_value(r))}</td>')
        drifted = any(r.drifted for r in report.scores[column])
        name = escape(column) + (' <span class="flag">drifted</span>' if drifted else "")
        row_class = ' class="drifted"' if drifted else ""
        body.append(f"<tr{row_class}><td>{name}</td>{''.join(cells)}</tr>")
    return (
        '<table class="scores"><thead><tr><th>column</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        '<p class="muted">Colours: red drifted, amber past the first band, green stable, '
        "grey not judged (too few rows). Tests (p) show the p-value.</p>"
    )


def _columns(report: DriftReport, first: int = 0) -> tuple[str, list[dict]]:
    """Each column's section and charts, numbered from ``first`` (ids unique in the page)."""
    sections, charts = [], []
    ordered = sorted(report.scores, key=lambda c: -severity(report.scores[c]))
    for index, column in enumerate(ordered, start=first):
        baseline = report.baseline.columns.get(column)
        current = report.current.columns.get(column)
        slots = []
        if baseline is not None and current is not None:
            charts.append({"id": f"dist-{index}", "spec": distribution(column, baseline, current)})
            slots.append(f'<div id="dist-{index}"></div>')
        history = score_history(column, report.history)
        if history is not None:
            charts.append({"id": f"hist-{index}", "spec": history})
            slots.append(f'<div id="hist-{index}"></div>')
        drifted = column in report.drifted
        flag = ' <span class="flag">drifted</span>' if drifted else ""
        sections.append(
            f'<section class="column" id="column-{index}"><h3>{escape(column)}{flag}</h3>'
            f'<div class="charts">{"".join(slots)}</div></section>'
        )
    return "".join(sections), charts


def _notes(notes) -> str:
    return "".join(f'<p class="note">{escape(note)}</p>' for note in notes)


def _split_summary(report: SplitReport) -> str:
    parts = "".join(
        f"<li>{_when(part.start)} → {_when(part.end)}: {part.hours} hours against "
        f"{escape(part.version.label() if part.version else '–')}, {_badge(part.status)}</li>"
        for part in report.parts
    )
    total = len({c for part in report.parts for c in part.scores})
    rows = [
        ("status", _badge(report.status)),
        ("period", f"{_when(report.start)} → {_when(report.end)}"),
        ("baseline versions", f'<ul class="parts">{parts}</ul>'),
        ("drifted columns (any part)", _drifted_list(report.drifted, total)),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return (
        f'<dl class="summary">{items}</dl><p class="note">The range spans a retraining: its '
        "hours were profiled against different baseline versions (other bins, so they cannot "
        "be merged), and each part below is judged against the version its hours were "
        "profiled against.</p>"
    )


def _body(report: Report) -> tuple[str, list[dict]]:
    if isinstance(report, DriftReport):
        sections, charts = _columns(report)
        return (
            f"<h2>Summary</h2>{_summary(report)}{_notes(report.notes)}"
            f"<h2>Columns × metrics (whole period)</h2>{_table(report)}"
            f"{segment_section(report.segments)}"
            f"<h2>Per column</h2>{sections}"
        ), charts
    html, charts = [f"<h2>Summary</h2>{_split_summary(report)}{_notes(report.notes)}"], []
    first = 0
    for index, part in enumerate(report.parts):
        sections, more = _columns(part, first)
        charts += more
        first += len(part.scores)
        against = escape(part.version.label() if part.version else "its baseline")
        html.append(
            f'<section class="part" id="part-{index}">'
            f"<h2>Part {index + 1}: {_when(part.start)} → {_when(part.end)}, against {against}"
            f"</h2>{_summary(part)}{_notes(part.notes)}"
            f'<h3 class="sub">Columns × metrics (this part)</h3>{_table(part)}'
            f"{segment_section(part.segments, prefix=f'part-{index}-segment')}"
            f'<h3 class="sub">Per column</h3>{sections}</section>'
        )
    return "".join(html), charts


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (a split report: one part per
    baseline version, each with its summary, table and charts)."""
    body, charts = _body(report)
    title = escape(f"Drift report: {report.title}")
    generated = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    bundle = javascript_bundle().replace("</script", "<\\/script")  # inert inside JS strings
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{title}</title><style>{STYLE}{SEGMENT_STYLE}</style></head>"
        f'<body data-rendered="pending"><h1>{title}</h1>'
        f'<p class="muted">Generated {generated} from stored aggregates.</p>'
        f"{body}"
        f'<script type="application/json" id="report-data">{_script_json({"charts": charts})}'
        f"</script><script>{bundle}</script><script>{SCRIPT}{SEGMENT_SCRIPT}</script>"
        "</body></html>\n"
    )
