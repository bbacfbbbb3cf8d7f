"""Block Kit messages for outbox rows: one message per deployment window, read in seconds.

Everything that comes from traffic or configuration (column names, category values, error
text) is escaped for mrkdwn (``&``, ``<``, ``>``), so a value such as ``<!channel>`` or
``<https://evil|click>`` shows as text and can neither ping nor link. Messages stay within
Block Kit's limits: at most 50 blocks, 3000 characters per text, 150 per header, and
8000 characters of text in all blocks together (Slack rejects a message whose blocks hold
about 12,000 with ``msg_blocks_too_long``, a limit it does not document exactly).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from monitoring_pipelines.alerts.threads import ResultKey, result_key
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.stats.references import TRAINING
from monitoring_pipelines.stats.segments import ALL

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER = 150
MAX_MESSAGE_TEXT = 8000
MAX_FALLBACK = 1000
MAX_NAME = 80
MAX_LINE = 1500
SHOWN_COLUMNS = 20
SEVERITIES = ("info", "warning", "critical")
ICONS = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":white_circle:"}
RESOLVED_ICON = ":white_check_mark:"
MULTIVARIATE_LABEL = "multivariate (all features together)"
REPORT_FIELDS = ("deployment", "start", "end")


def escape(value: object) -> str:
    """``value`` as mrkdwn-safe text: ``&``, ``<`` and ``>`` become entities."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(value: object, limit: int) -> str:
    """``value`` cut to ``limit`` characters (before escaping, so no entity is split)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def marker(dedup_keys: Sequence[str]) -> str:
    """A short, stable id of a message's dedup keys, used as its header ``block_id``."""
    digest = hashlib.sha256("\n".join(sorted(dedup_keys)).encode()).hexdigest()
    return f"mp-{digest[:32]}"


@dataclass(frozen=True)
class Links:
    """Base URLs for the links in a message; ``report_url`` may hold ``{deployment}``,
    ``{start}`` and ``{end}`` placeholders, else they are added as query parameters."""

    ui_url: str | None = None
    report_url: str | None = None

    def __post_init__(self) -> None:
        if self.report_url:
            try:
                self.report_url.format(deployment="d", start="s", end="e")
            except (KeyError, IndexError, ValueError) as error:
                raise ValueError(
                    f"bad report URL template {self.report_url!r}: only {{deployment}}, "
                    f"{{start}} and {{end}} may appear in braces ({error!r})"
                ) from None

    def asset(self, deployment_id: str, window_start: datetime | None) -> str | None:
        """The ``drift_scores`` asset in the Dagster UI, at the window's partition."""
        if not self.ui_url:
            return None
        url = f"{self.ui_url.rstrip('/')}/assets/drift_scores"
        if window_start is None:
            return url
        key = f"{deployment_id}|{window_start:%Y-%m-%d-%H:%M}"
        return f"{url}?view=partitions&partition={quote(key)}"

    def report(self, deployment_id: str, start: datetime, end: datetime) -> str | None:
        """The drift report of one deployment window."""
        if not self.report_url:
            return None
        values = {"deployment": deployment_id, "start": _stamp(start), "end": _stamp(end)}
        if any(f"{{{name}}}" in self.report_url for name in REPORT_FIELDS):
            return self.report_url.format(**{k: quote(v) for k, v in values.items()})
        glue = "&" if "?" in self.report_url else "?"
        return f"{self.report_url}{glue}{urlencode(values)}"

    def run(self, run_id: str) -> str | None:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}" if self.ui_url else None


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%MZ}"


def window_text(row: Mapping[str, Any]) -> str:
    start, end = row["window_start"], row["window_end"]
    if start is None:
        return "n/a"
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _worst(rows: Sequence[Mapping[str, Any]]) -> str:
    return max((r["severity"] for r in rows), key=SEVERITIES.index)


def _ratio(row: Mapping[str, Any]) -> float:
    """How far past its threshold a result is (p-values: threshold / p)."""
    threshold = row["threshold"] or 0.0
    if row["value"] is None:
        p_value = row["p_value"] or 0.0
        return threshold / p_value if p_value > 0 else float("inf")
    return row["value"] / threshold if threshold > 0 else float("inf")


def _metric_part(row: Mapping[str, Any], resolved_at: datetime | None) -> str:
    metric = escape(_clip(row["metric"], MAX_NAME))
    _, _, reference, segment = result_key(row)
    if reference != TRAINING:
        metric = f"{metric} against {escape(reference)}"
    if segment != ALL:
        metric = f"{metric} in {escape(_clip(segment, MAX_NAME))}"
    if row["value"] is None:
        shown = f"p={_number(row['p_value'])} vs {_number(row['threshold'])}"
    else:
        shown = f"{_number(row['value'])} vs {_number(row['threshold'])}"
    text = f"{metric} {shown} {escape(_clip(row['status'] or '', 24))}"
    population = (row.get("payload") or {}).get("population")
    if segment != ALL and population is not None:
        number = population["value"] if row["value"] is not None else population["p_value"]
        label = "population" if row["value"] is not None else "population p="
        text += f" ({label} {_number(number)} {escape(_clip(population['status'] or '', 24))})"
    if resolved_at is None:
        return text
    return f"~{text}~ {RESOLVED_ICON} stable {resolved_at:%H:%M}"


def _category_line(payload: Mapping[str, Any] | None) -> str | None:
    """The categories that moved most in a categorical column (from the drift detail)."""
    shifts = (payload or {}).get("categories") or []
    parts = []
    for shift in shifts[:3]:
        label = "new " if shift.get("new") else ""
        value = escape(_clip(shift.get("value"), MAX_NAME))
        before, after = shift.get("reference_share") or 0.0, shift.get("current_share") or 0.0
        parts.append(f"{label}`{value}` {before:.1%} → {after:.1%}")
    return "      " + " · ".join(parts) if parts else None


def _band_line(payload: Mapping[str, Any] | None) -> str | None:
    """The multivariate score's mean reconstruction error against its reference band."""
    band = (payload or {}).get("multivariate")
    if not band or "lower" not in band:
        return None
    return (
        f"      mean reconstruction error {_number(band.get('mean_error'))}, reference "
        f"{_number(band.get('reference_mean'))} (band {_number(band['lower'])}–"
        f"{_number(band.get('upper'))}; {band.get('components')} of {band.get('columns')} "
        "components)"
    )


def _column_lines(
    rows: Sequence[Mapping[str, Any]], resolved: Mapping[ResultKey, datetime]
) -> list[str]:
    """One line per drifted column (worst first), its metrics side by side."""
    by_column: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_column.setdefault(row["column_name"], []).append(row)
    ordered = sorted(
        by_column.items(),
        key=lambda item: (
            max(SEVERITIES.index(r["severity"]) for r in item[1]),
            max(_ratio(r) for r in item[1]),
        ),
        reverse=True,
    )
    lines = []
    for column, results in ordered:
        results = sorted(results, key=_ratio, reverse=True)
        parts = [_metric_part(r, resolved.get(result_key(r))) for r in results]
        done = all(result_key(r) in resolved for r in results)
        icon = RESOLVED_ICON if done else ICONS[_worst(results)]
        name = MULTIVARIATE_LABEL if column == MULTIVARIATE else escape(_clip(column, MAX_NAME))
        lines.append(f"{icon} *{name}*  " + " · ".join(parts))
        payload = next((r.get("payload") for r in results if r.get("payload")), None)
        explained = _category_line(payload) or _band_line(payload)
        if explained:
            lines.append(explained)
    return lines


def text_size(blocks: Sequence[Mapping[str, Any]]) -> int:
    """Characters of text in ``blocks`` (every text object, fields and buttons included):
    what Slack's cumulative limit on a message's blocks counts."""

    def size(node: Any) -> int:
        if isinstance(node, Mapping):
            own = len(node["text"]) if isinstance(node.get("text"), str) else 0
            return own + sum(size(value) for value in node.values())
        if isinstance(node, list):
            return sum(size(item) for item in node)
        return 0

    return size(list(blocks))


def _fit(lines: Sequence[str], budget: int) -> list[str]:
    """The first lines of at most SHOWN_COLUMNS entries (an entry: a line and the indented
    lines under it) and ``budget`` characters, then a count of the entries left out."""
    entries = sum(not line.startswith(" ") for line in lines)
    more = len(f"… and {entries} more column(s)") + 1
    kept: list[str] = []
    used = shown = 0
    for line in lines:
        line = line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
        fits = used + len(line) + 1 + more <= budget
        if not line.startswith(" "):
            if shown == SHOWN_COLUMNS or not fits:
                break
            shown += 1
        elif not fits or not kept:
            continue
        kept.append(line)
        used += len(line) + 1
    if shown < entries:
        kept.append(f"… and {entries - shown} more column(s)")
    return kept


def _sections(lines: Sequence[str], budget: int) -> list[dict]:
    """``lines`` packed into at most ``budget`` mrkdwn sections of at most MAX_TEXT chars."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1]) + 1 + len(line) <= MAX_TEXT:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": t}} for t in texts[:budget]]


def _buttons(*links: tuple[str, str | None]) -> list[dict]:
    elements = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
        for label, url in links
        if url
    ]
    return [{"type": "actions", "elements": elements}] if elements else []


def _header(text: str, dedup_keys: Sequence[str]) -> dict:
    """A header (plain text; escaped too, as Slack decodes entities everywhere)."""
    clipped = _clip(text, MAX_HEADER - 20)
    return {
        "type": "header",
        "block_id": marker(dedup_keys),
        "text": {"type": "plain_text", "text": escape(clipped)[:MAX_HEADER], "emoji": True},
    }


# binary: F1 and ROC AUC of the positive class; multiclass: one-vs-rest ROC AUC, macro
SHOWN_PERFORMANCE = (
    "accuracy",
    "f1",
    "roc_auc",
    "roc_auc_macro",
    "rmse",
    "mae",
    "r2",
    "latency_p95",
)


def performance_lines(
    performance: Sequence[Mapping[str, Any]], name: str = "Performance"
) -> list[str]:
    """The window's realized numbers (with its labelled rows), its difference from the
    baseline, and the CBPE estimate with its band, from ``model_performance`` rows (metric,
    value, n_labelled, and optionally kind and details); nothing when there are none."""
    by_kind: dict[str, dict[str, Mapping[str, Any]]] = {}
    for p in performance:
        by_kind.setdefault(p.get("kind") or "realized", {})[p["metric"]] = p
    realized, estimated = by_kind.get("realized", {}), by_kind.get("estimated", {})
    lines = []
    shown = [m for m in SHOWN_PERFORMANCE if m in realized]
    if shown:
        labelled = int(realized[shown[0]]["n_labelled"])
        numbers = " · ".join(f"{m} {_number(realized[m]['value'])}" for m in shown)
        lines.append(f"*{name}* ({labelled:,} labelled): {numbers}")
    versus = realized.get("vs_baseline")
    if versus is not None and versus.get("details"):
        details = versus["details"]
        lines.append(
            f"*vs baseline*: {escape(details['metric'])} {versus['value']:+.3g} "
            f"(baseline {_number(details['baseline'])})"
        )
    shown = [m for m in SHOWN_PERFORMANCE if m in estimated]
    if shown:
        parts = []
        for metric in shown:
            band = estimated[metric].get("details") or {}
            text = f"{metric} {_number(estimated[metric]['value'])}"
            if band.get("lower") is not None and band.get("upper") is not None:
                text += f" (band {_number(band['lower'])}–{_number(band['upper'])})"
            parts.append(text)
        lines.append("*Estimated* (CBPE, no labels needed): " + " · ".join(parts))
    return lines


def drift_message(
    rows: Sequence[Mapping[str, Any]],
    links: Links = Links(),
    *,
    resolved: Mapping[ResultKey, datetime] | None = None,
    performance: Sequence[Mapping[str, Any]] = (),
) -> dict:
    """The message for one deployment window's drift alerts: severity, deployment and window
    in the header, one line per drifted column, performance when known, links.

    ``resolved`` maps (column, metric, reference) to the window start where it became stable
    again; a message whose every result resolved is headed "Resolved" (``chat.update`` sends
    this). Results against a production reference say so (``psi against last_week``), and the
    message then lists its references.
    """
    resolved = resolved or {}
    first = rows[0]
    severity = _worst(rows)
    deployment = first["deployment_id"]
    all_resolved = all(result_key(r) in resolved for r in rows)
    state = "Resolved" if all_resolved else f"{severity.capitalize()} drift"
    keys = [r["dedup_key"] for r in rows]
    columns = list(dict.fromkeys(r["column_name"] for r in rows))
    title = f"{state} · {deployment} · {window_text(first)}"
    fields = [
        f"*Severity*\n{ICONS[severity]} {severity}" + (" (resolved)" if all_resolved else ""),
        f"*Deployment*\n{escape(deployment)}",
        f"*Window*\n{window_text(first)} ({escape(first['granularity'])})",
        f"*Drifted*\n{len(columns)} column(s), {len(rows)} result(s)",
    ]
    references = sorted({result_key(r)[2] for r in rows}, key=lambda r: (r != TRAINING, r))
    if references != [TRAINING]:
        fields.append(f"*Reference*\n{escape(', '.join(references))}")
    segments = sorted({result_key(r)[3] for r in rows}, key=lambda s: (s != ALL, s))
    if segments != [ALL]:
        shown = [s if s != ALL else "population" for s in segments]
        fields.append(f"*Segment*\n{escape(_clip(', '.join(shown), MAX_NAME * 2))}")
    tail = [
        *(
            [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(perf)}}]
            if (perf := performance_lines(performance))
            else []
        ),
        *_buttons(
            ("Open in Dagster", links.asset(deployment, first["window_start"])),
            ("Drift report", links.report(deployment, first["window_start"], first["window_end"])),
        ),
    ]
    head = [
        _header(title, keys),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    lines = _fit(_column_lines(rows, resolved), MAX_MESSAGE_TEXT - text_size([*head, *tail]))
    body = _sections(lines, MAX_BLOCKS - len(head) - len(tail))
    names = ", ".join(escape(_clip(c, MAX_NAME)) for c in columns[:5])
    more = f" (+{len(columns) - 5} more)" if len(columns) > 5 else ""
    text = _clip(f"{escape(title)}: {names}{more}", MAX_FALLBACK)
    return {"text": text, "blocks": [*head, *body, *tail]}


def resolved_message(
    rows: Sequence[Mapping[str, Any]], links: Links = Links(), *, in_thread: bool = False
) -> dict:
    """The notice that drifted columns of one deployment are stable again: a threaded reply
    under the original message, or a message of its own when there is no original."""
    first = rows[0]
    deployment = first["deployment_id"]
    by_column: dict[str, list[str]] = {}
    for row in rows:
        _, metric, reference, segment = result_key(row)
        named = metric if reference == TRAINING else f"{metric} against {reference}"
        named = named if segment == ALL else f"{named} in {segment}"
        by_column.setdefault(row["column_name"], []).append(named)
    lines = [
        f"• *{escape(_clip(c, MAX_NAME))}* {', '.join(escape(_clip(m, MAX_NAME)) for m in ms)}"
        for c, ms in by_column.items()
    ]
    when = f"stable again in {window_text(first)} ({escape(first['granularity'])})"
    keys = [r["dedup_key"] for r in rows]
    intro = f"{RESOLVED_ICON} *Resolved* · {escape(deployment)} · {when}"
    link = _buttons(("Open in Dagster", links.asset(deployment, first["window_start"])))
    head = [] if in_thread else [_header(f"Resolved · {deployment} · {window_text(first)}", keys)]
    intro_block = {"type": "section", "text": {"type": "mrkdwn", "text": intro}}
    if in_thread:
        intro_block["block_id"] = marker(keys)
    lines = _fit(lines, MAX_MESSAGE_TEXT - text_size([*head, intro_block, *link]))
    body = _sections(lines, MAX_BLOCKS - len(head) - 1 - len(link))
    names = ", ".join(escape(_clip(c, MAX_NAME)) for c in list(by_column)[:5])
    text = _clip(f"Resolved · {deployment} · {when}: {names}", MAX_FALLBACK)
    return {"text": text, "blocks": [*head, intro_block, *body, *link]}


def run_failure_message(row: Mapping[str, Any], links: Links = Links()) -> dict:
    """A failed run of the code location: job, deployment, the underlying error, a link."""
    payload = row.get("payload") or {}
    job = payload.get("job_name", "unknown job")
    title = f"Run failed · {job} · {row['deployment_id']}"
    error = escape(_clip(row["reason"] or "no error message", 2000))
    fields = [
        f"*Job*\n{escape(job)}",
        f"*Deployment*\n{escape(row['deployment_id'])}",
        f"*Run*\n{escape(payload.get('run_id', ''))[:8]}",
    ]
    if payload.get("partition"):
        fields.append(f"*Partition*\n{escape(_clip(payload['partition'], 200))}")
    blocks = [
        _header(title, [row["dedup_key"]]),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Cause*\n```{error}```"}},
        *_buttons(("Open run in Dagster", links.run(payload.get("run_id", "")))),
    ]
    return {"text": _clip(f"{escape(title)}: {error}", MAX_FALLBACK), "blocks": blocks}


def no_data_message(row: Mapping[str, Any]) -> dict:
    """A quiet hour: no rows, or far fewer than usual; the rows, the usual rows and why."""
    label = "No data" if row["status"] == "no_data" else "Low volume"
    title = f"{label} · {row['deployment_id']} · {window_text(row)}"
    usual = "unknown" if row["threshold"] is None else f"{row['threshold']:.0f}"
    fields = [f"*Rows*\n{int(row['value'] or 0)}", f"*Usual rows*\n{usual}"]
    reason = escape(_clip(row["reason"] or "", 500))
    blocks = [
        _header(f"{ICONS[row['severity']]} {title}", [row["dedup_key"]]),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": reason}},
    ]
    return {"text": _clip(f"{escape(title)}: {reason}", MAX_FALLBACK), "blocks": blocks}
