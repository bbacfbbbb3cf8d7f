"""Slack: Block Kit messages for outbox rows, and a retrying, secret-safe ``chat.postMessage``.

Each message carries its dedup keys as Slack message metadata, so a delivery whose outcome
is unknown (timeout, crash) can be looked up in the channel's history instead of re-posted.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter

from monitoring_pipelines.alerts.redact import RedactingFilter, describe

TOKEN_ENV = "SLACK_BOT_TOKEN"
BASE_URL_ENV = "SLACK_BASE_URL"
CHANNEL_ENV = "SLACK_CHANNEL"
UI_URL_ENV = "DAGSTER_UI_URL"
DEFAULT_BASE_URL = "https://slack.com/api/"
EVENT_TYPE = "monitoring_alert"
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
ICONS = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":white_circle:"}


def asset_url(ui_url: str, deployment_id: str, window_start: datetime | None) -> str:
    """The ``drift_scores`` asset in the Dagster UI, at the window's partition when known."""
    url = f"{ui_url.rstrip('/')}/assets/drift_scores"
    if window_start is None:
        return url
    key = f"{deployment_id}|{window_start:%Y-%m-%d-%H:%M}"
    return f"{url}?view=partitions&partition={quote(key)}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _line(row: Mapping[str, Any]) -> str:
    shown = row["p_value"] if row["value"] is None else row["value"]
    return (
        f"• `{row['column_name']}` {row['metric']} {_number(shown)}"
        f" (threshold {_number(row['threshold'])}, {row['status']}, {row['severity']})"
    )


def _window(row: Mapping[str, Any]) -> str:
    start, end = row["window_start"], row["window_end"]
    if start is None:
        return "n/a"
    return f"{start:%Y-%m-%d %H:%M} – {end:%H:%M} UTC ({row['granularity']})"


def _link(ui_url: str | None, url: str, label: str) -> list[dict]:
    if not ui_url:
        return []
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
    return [{"type": "actions", "elements": [button]}]


def drift_message(rows: Sequence[Mapping[str, Any]], ui_url: str | None, top: int = 10) -> dict:
    """One message for the drift alerts of one deployment window, worst first."""
    first = rows[0]
    severity = max((r["severity"] for r in rows), key=["info", "warning", "critical"].index)
    ranked = sorted(
        rows,
        key=lambda r: (r["severity"] == "critical", (r["value"] or 0) / (r["threshold"] or 1)),
        reverse=True,
    )
    lines = [_line(r) for r in ranked[:top]]
    if len(ranked) > top:
        lines.append(f"…and {len(ranked) - top} more")
    title = f"{severity.capitalize()} drift: {first['deployment_id']}"
    url = asset_url(ui_url or "", first["deployment_id"], first["window_start"])
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Deployment*\n{first['deployment_id']}"},
                {"type": "mrkdwn", "text": f"*Severity*\n{ICONS[severity]} {severity}"},
                {"type": "mrkdwn", "text": f"*Window*\n{_window(first)}"},
                {"type": "mrkdwn", "text": f"*Drifted*\n{len(rows)} column/metric pairs"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
        *_link(ui_url, url, "Open drift_scores in Dagster"),
    ]
    text = f"{title}, {_window(first)}: " + "; ".join(
        f"{r['column_name']} {r['metric']} {_number(r['value'])}" for r in ranked[:top]
    )
    return {"text": text, "blocks": blocks}


def resolved_message(rows: Sequence[Mapping[str, Any]], ui_url: str | None) -> dict:
    """A notice that previously alerting columns of one deployment are stable again."""
    first = rows[0]
    pairs = ", ".join(f"`{r['column_name']}` {r['metric']}" for r in rows)
    title = f"Resolved: {first['deployment_id']}"
    text = f"{title}, back to stable in {_window(first)}: {pairs}"
    url = asset_url(ui_url or "", first["deployment_id"], first["window_start"])
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f":white_check_mark: {text}"}},
        *_link(ui_url, url, "Open drift_scores in Dagster"),
    ]
    return {"text": text, "blocks": blocks}


def run_failure_message(row: Mapping[str, Any], ui_url: str | None) -> dict:
    """A failed monitoring run: job, run id, error summary, link to the run."""
    payload = row["payload"] or {}
    title = f"Run failed: {payload.get('job_name', 'unknown job')} ({row['deployment_id']})"
    error = (row["reason"] or "no error message")[:2000]
    url = f"{(ui_url or '').rstrip('/')}/runs/{payload.get('run_id', '')}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{error}```"}},
        *_link(ui_url, url, "Open run in Dagster"),
    ]
    return {"text": f"{title}: {error[:200]}", "blocks": blocks}


class ProportionalJitter(Jitter):
    """Full jitter scaled to the backoff (slack-sdk's default adds up to one whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (0.5 + random.random())


class SlackDeliveryError(RuntimeError):
    """A post that failed; the message is secret-free. ``maybe_sent``: outcome unknown."""

    def __init__(self, message: str, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class SlackSettings:
    """Where and how to post; the token only ever comes from the environment."""

    token: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    default_channel: str | None = None
    ui_url: str | None = None
    timeout_seconds: int = 10
    max_retries: int = 2
    backoff_seconds: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSettings:
        """Read SLACK_BOT_TOKEN, SLACK_BASE_URL, SLACK_CHANNEL and DAGSTER_UI_URL."""
        env = os.environ if env is None else env
        return cls(
            token=env.get(TOKEN_ENV) or None,
            base_url=env.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            default_channel=env.get(CHANNEL_ENV) or None,
            ui_url=env.get(UI_URL_ENV) or None,
        )


class SlackTransport:
    """``chat.postMessage`` through slack-sdk with retries on 429, 5xx and connection errors."""

    def __init__(self, settings: SlackSettings) -> None:
        if not settings.token:
            raise ValueError(f"no Slack token: set {TOKEN_ENV} to post to Slack")
        self.settings = settings
        backoff = BackoffRetryIntervalCalculator(settings.backoff_seconds, ProportionalJitter())
        logger = logging.getLogger(f"{__name__}.sdk")
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
        self._client = WebClient(
            token=settings.token,
            base_url=settings.base_url.rstrip("/") + "/",
            timeout=settings.timeout_seconds,
            logger=logger,
            retry_handlers=[
                handler(max_retry_count=settings.max_retries, interval_calculator=backoff)
                for handler in (
                    ConnectionErrorRetryHandler,
                    RateLimitErrorRetryHandler,
                    ServerErrorRetryHandler,
                )
            ],
        )

    def _error(self, action: str, error: Exception, maybe_sent: bool) -> SlackDeliveryError:
        if isinstance(error, SlackApiError):
            detail = f"SlackApiError: {error.response.get('error', 'unknown')}"
            detail += f" (HTTP {error.response.status_code})"
        else:
            detail = describe(error, [self.settings.token])
        return SlackDeliveryError(f"{action} failed: {detail}", maybe_sent)

    def post(self, channel: str, message: Mapping[str, Any], dedup_keys: Sequence[str]) -> str:
        """Post and return the message ts; raises :class:`SlackDeliveryError` (no secrets)."""
        try:
            response = self._client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata={"event_type": EVENT_TYPE, "event_payload": {"dedup_keys": dedup_keys}},
                unfurl_links=False,
            )
        except SlackApiError as error:
            raise self._error("chat.postMessage", error, maybe_sent=False) from None
        except Exception as error:  # timeouts and dropped connections: outcome unknown
            raise self._error("chat.postMessage", error, maybe_sent=True) from None
        return str(response["ts"])

    def find_posted(self, channel: str, dedup_keys: Sequence[str], oldest: datetime) -> str | None:
        """The ts of a message in ``channel`` since ``oldest`` carrying any of these dedup keys.

        Only channel ids (C…/G…/D…) can be searched; for names this returns None.
        """
        if not CHANNEL_ID.match(channel):
            return None
        wanted = set(dedup_keys)
        cursor = None
        for _ in range(10):
            try:
                page = self._client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            except Exception as error:
                raise self._error("conversations.history", error, maybe_sent=False) from None
            for message in page.get("messages", []):
                metadata = message.get("metadata") or {}
                keys = (metadata.get("event_payload") or {}).get("dedup_keys") or []
                if metadata.get("event_type") == EVENT_TYPE and wanted & set(keys):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None
