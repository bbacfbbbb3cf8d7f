"""Block Kit messages for a performance drop (a window's numbers crossed a rule) and for a
retraining decision (its reasons, and whether it was a dry run), in the style of
``slack_messages``: escaped text, a header whose block id is the message's marker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitoring_pipelines.alerts.slack_messages import (
    ICONS,
    MAX_FALLBACK,
    MAX_NAME,
    Links,
    _buttons,
    _clip,
    _header,
    escape,
    performance_lines,
    window_text,
)
from monitoring_pipelines.stats.segments import ALL

MAX_REASONS = 20
NO_LINKS = Links()


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def performance_message(
    rows: Sequence[Mapping[str, Any]],
    links: Links = NO_LINKS,
    *,
    performance: Sequence[Mapping[str, Any]] = (),
    drifted: Sequence[str] = (),
    population: Sequence[Mapping[str, Any]] = (),
) -> dict:
    """One performance alert: the crossed rule, the window's numbers beside its drift; a
    segment's alert names the segment and shows the ``population``'s numbers beside its own;
    the population's lists the segments folded into it (payload ``also_breaching``)."""
    row = rows[0]
    deployment, severity = row["deployment_id"], row["severity"]
    segment = row.get("segment") or ALL
    where = "" if segment == ALL else f" · {escape(_clip(segment, MAX_NAME))}"
    title = f"{severity.capitalize()} performance · {deployment}{where} · {window_text(row)}"
    reason = escape(_clip(row["reason"] or "", 500))
    columns = ", ".join(escape(_clip(c, MAX_NAME)) for c in drifted[:10])
    more = f" (+{len(drifted) - 10} more)" if len(drifted) > 10 else ""
    drift = f"*Drift*: {len(drifted)} drifted column(s)" + (f": {columns}{more}" if drifted else "")
    fields = [
        f"*Severity*\n{ICONS[severity]} {severity}",
        f"*Deployment*\n{escape(deployment)}",
        f"*Window*\n{window_text(row)} ({escape(row['granularity'] or 'hour')})",
        f"*Metric*\n{escape(_clip(row['metric'] or '', MAX_NAME))}",
    ]
    if segment != ALL:
        fields.append(f"*Segment*\n{escape(_clip(segment, MAX_NAME))}")
    lines = performance_lines(performance)
    if segment != ALL:
        lines += [line for line in performance_lines(population, "Population") if "*Pop" in line]
    also = (row.get("payload") or {}).get("also_breaching") or []
    blocks = [
        _header(title, [r["dedup_key"] for r in rows]),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section(f"{ICONS[severity]} {reason}"),
        *([_section("\n".join(lines))] if lines else []),
        *([_section(_also_breaching(row["metric"] or "", also))] if also else []),
        _section(drift),
        *_buttons(("Open in Dagster", links.asset(deployment, row["window_start"]))),
    ]
    return {"text": _clip(f"{escape(title)}: {reason}", MAX_FALLBACK), "blocks": blocks}


def _also_breaching(metric: str, also: Sequence[Mapping[str, Any]]) -> str:
    """The segments folded into the population's alert, each with its value."""
    items = [
        f"{escape(_clip(b['segment'], MAX_NAME))} {b['value']:.4g} ({escape(b['severity'])})"
        for b in also[:MAX_REASONS]
    ]
    more = f" (+{len(also) - MAX_REASONS} more)" if len(also) > MAX_REASONS else ""
    return (
        f"*Also breaching* ({len(also)} segment(s), {escape(_clip(metric, MAX_NAME))} not worse "
        f"than the population): {', '.join(items)}{more}"
    )


def retraining_message(row: Mapping[str, Any], links: Links = NO_LINKS) -> dict:
    """A decision to retrain: the deployment, the window it was decided on, every reason,
    and whether a retraining run was requested or it was a dry run."""
    payload = row.get("payload") or {}
    reasons = list(payload.get("reasons") or [row["reason"] or ""])
    dry_run = bool(payload.get("dry_run"))
    action = "dry run: recorded, no run requested" if dry_run else "retraining run requested"
    title = f"Retraining {'(dry run) ' if dry_run else ''}· {row['deployment_id']}"
    lines = [f"• {escape(_clip(reason, 400))}" for reason in reasons[:MAX_REASONS]]
    if len(reasons) > MAX_REASONS:
        lines.append(f"(+{len(reasons) - MAX_REASONS} more)")
    fields = [
        f"*Deployment*\n{escape(row['deployment_id'])}",
        f"*Decided on*\n{window_text(row)}",
        f"*Action*\n{action}",
    ]
    blocks = [
        _header(title, [row["dedup_key"]]),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section("*Why*\n" + "\n".join(lines)),
        *_buttons(("Open in Dagster", links.asset(row["deployment_id"], row["window_start"]))),
    ]
    text = f"{escape(title)}: {escape(_clip('; '.join(reasons), 600))}"
    return {"text": _clip(text, MAX_FALLBACK), "blocks": blocks}
