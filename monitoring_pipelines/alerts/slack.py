"""Slack transport: post without ever re-sending blindly, look posts up by their dedup keys.

slack-sdk's ``ConnectionErrorRetryHandler`` re-sends on a dropped connection and
``ServerErrorRetryHandler`` on 500/503, both of which can follow a post Slack already
stored. So ``chat.postMessage`` goes through its own client that retries only what provably
never reached Slack (connection refused, unresolvable host) and 429s (Slack does not process
rate-limited calls); every other failure of a post is an *unknown outcome* for the caller to
settle by a lookup. Reads (``conversations.history`` / ``replies``) and ``chat.update``
(idempotent) use a second client with slack-sdk's full retries.

Each message carries its marker (a digest of its rows' dedup keys, recorded on each row
before the post) twice: in the message ``metadata`` and as the header block's ``block_id``,
so a lookup finds it even if metadata is not returned. The marker keeps the metadata small
whatever the number of rows in a message; messages of the previous release, whose metadata
lists the dedup keys themselves, are still found by key.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.error import HTTPError, URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter

from monitoring_pipelines.alerts.redact import RedactingFilter, describe
from monitoring_pipelines.alerts.slack_messages import Links

TOKEN_ENV = "SLACK_BOT_TOKEN"
BASE_URL_ENV = "SLACK_BASE_URL"
CHANNEL_ENV = "SLACK_CHANNEL"
UI_URL_ENV = "DAGSTER_UI_URL"
REPORT_URL_ENV = "MONITORING_REPORT_URL"
POLICY_ENV = "SLACK_UNCONFIRMED_POLICY"
SETTLE_ENV = "SLACK_LOOKUP_SETTLE_SECONDS"
DEFAULT_BASE_URL = "https://slack.com/api/"
EVENT_TYPE = "monitoring_alert"
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
WAIT, RESEND = "wait", "resend"
POLICIES = (WAIT, RESEND)
DEFAULT_SETTLE_SECONDS = 60.0
LOOKUP_PAGES = 50
# Slack says these may follow a partly done operation: the post may exist.
UNKNOWN_OUTCOME_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
NOT_PROCESSED_ERRORS = frozenset({"ratelimited"})
ERROR_CODE = re.compile(r"^[a-z_]+$")


class Outcome(StrEnum):
    """What a failed call tells about Slack's state."""

    NOT_SENT = "not_sent"  # provably not processed: try again later
    UNKNOWN = "unknown"  # may have been processed: settle by a lookup, never re-send blindly
    PERMANENT = "permanent"  # rejected for a reason retrying cannot fix


class SlackDeliveryError(RuntimeError):
    """A call that failed; the message is secret-free. ``code`` is Slack's error code."""

    def __init__(self, message: str, outcome: Outcome, code: str | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.code = code

    @property
    def maybe_sent(self) -> bool:
        return self.outcome is Outcome.UNKNOWN


class NeverReachedSlackRetryHandler(RetryHandler):
    """Retries a request only when it cannot have reached Slack: the TCP connection was
    refused or the host name did not resolve (urllib raises these before sending a byte)."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return never_reached(error)


def never_reached(error: BaseException | None) -> bool:
    """Whether ``error`` proves the request never left this machine."""
    if not isinstance(error, URLError) or isinstance(error, HTTPError):
        return False
    return isinstance(error.reason, ConnectionRefusedError | socket.gaierror)


class ProportionalJitter(Jitter):
    """Full jitter scaled to the backoff (slack-sdk's default adds up to one whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (0.5 + random.random())


@dataclass(frozen=True)
class SlackSettings:
    """Where and how to post; the token only ever comes from the environment.

    ``unconfirmed_policy``: what to do with a post of unknown outcome when the duplicate
    lookup is impossible (missing history scope, channel given by name): ``wait`` keeps it
    ``unconfirmed`` (at most once), ``resend`` posts it again (at least once).
    ``settle_seconds``: how long after an unknown outcome a lookup is trusted to prove absence
    (a request Slack is still processing may be stored after the client gave up).
    """

    token: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    default_channel: str | None = None
    ui_url: str | None = None
    report_url: str | None = None
    timeout_seconds: float = 10
    max_retries: int = 2
    backoff_seconds: float = 0.5
    unconfirmed_policy: str = WAIT
    settle_seconds: float = DEFAULT_SETTLE_SECONDS

    def __post_init__(self) -> None:
        if self.unconfirmed_policy not in POLICIES:
            raise ValueError(
                f"{POLICY_ENV}={self.unconfirmed_policy!r}: choose one of {', '.join(POLICIES)}"
            )
        if not self.settle_seconds >= 0:
            raise ValueError(f"{SETTLE_ENV} must be a number >= 0, got {self.settle_seconds!r}")
        Links(self.ui_url, self.report_url)

    @property
    def links(self) -> Links:
        return Links(self.ui_url, self.report_url)

    @property
    def settle(self) -> timedelta:
        return timedelta(seconds=self.settle_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSettings:
        """From SLACK_BOT_TOKEN, SLACK_BASE_URL, SLACK_CHANNEL, DAGSTER_UI_URL,
        MONITORING_REPORT_URL, SLACK_UNCONFIRMED_POLICY and SLACK_LOOKUP_SETTLE_SECONDS."""
        env = os.environ if env is None else env
        settle = env.get(SETTLE_ENV) or str(DEFAULT_SETTLE_SECONDS)
        try:
            settle_seconds = float(settle)
        except ValueError:
            raise ValueError(f"{SETTLE_ENV} must be a number of seconds, got {settle!r}") from None
        return cls(
            token=env.get(TOKEN_ENV) or None,
            base_url=env.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            default_channel=env.get(CHANNEL_ENV) or None,
            ui_url=env.get(UI_URL_ENV) or None,
            report_url=env.get(REPORT_URL_ENV) or None,
            unconfirmed_policy=(env.get(POLICY_ENV) or WAIT).strip().lower(),
            settle_seconds=settle_seconds,
        )


@dataclass(frozen=True)
class Lookup:
    """Which dedup keys a search found (key → message ts), and whether it read every message
    in range (only a complete search proves a key absent)."""

    found: dict[str, str]
    complete: bool


@dataclass(frozen=True)
class Capability:
    """Whether posts to a channel can be looked up: ``possible`` True, False (with the
    reason), or None when the probe itself failed (unknown; probed again next time)."""

    possible: bool | None
    reason: str = ""


def _matches(message: Mapping[str, Any], wanted: Mapping[str, str | None]) -> set[str]:
    """The wanted dedup keys ``message`` carries: by its marker (metadata or a block id), or
    by key for a message of the previous release (its metadata listed the keys)."""
    metadata = message.get("metadata") or {}
    ours = metadata.get("event_type") == EVENT_TYPE
    payload = (metadata.get("event_payload") or {}) if ours else {}
    markers = {block.get("block_id") for block in message.get("blocks") or []}
    markers.add(payload.get("marker"))
    markers.discard(None)
    listed = set(payload.get("dedup_keys") or [])
    return {key for key, mark in wanted.items() if mark in markers or key in listed}


class SlackTransport:
    """``chat.postMessage`` (never re-sent after it may have arrived), lookups and updates."""

    def __init__(self, settings: SlackSettings) -> None:
        if not settings.token:
            raise ValueError(f"no Slack token: set {TOKEN_ENV} to post to Slack")
        self.settings = settings
        backoff = BackoffRetryIntervalCalculator(settings.backoff_seconds, ProportionalJitter())
        logger = logging.getLogger(f"{__name__}.sdk")
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())

        def client(*handlers: type[RetryHandler]) -> WebClient:
            return WebClient(
                token=settings.token,
                base_url=settings.base_url.rstrip("/") + "/",
                timeout=settings.timeout_seconds,
                logger=logger,
                retry_handlers=[
                    h(max_retry_count=settings.max_retries, interval_calculator=backoff)
                    for h in handlers
                ],
            )

        self._post_client = client(NeverReachedSlackRetryHandler, RateLimitErrorRetryHandler)
        self._read_client = client(
            ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler
        )

    def _error(self, action: str, error: Exception) -> SlackDeliveryError:
        """A secret-free error with what the failure says about Slack's state."""
        if isinstance(error, SlackApiError):
            code = str(error.response.get("error", "unknown"))
            status = error.response.status_code
            detail = f"SlackApiError: {code} (HTTP {status})"
            if status == 429 or code in NOT_PROCESSED_ERRORS:
                outcome = Outcome.NOT_SENT
            elif status >= 500 or code in UNKNOWN_OUTCOME_ERRORS or not ERROR_CODE.match(code):
                outcome = Outcome.UNKNOWN
            else:
                outcome = Outcome.PERMANENT
            if code == "missing_scope" and error.response.get("needed"):
                detail += f", needed scope {error.response.get('needed')}"
            return SlackDeliveryError(f"{action} failed: {detail}", outcome, code)
        outcome = Outcome.NOT_SENT if never_reached(error) else Outcome.UNKNOWN
        return SlackDeliveryError(
            f"{action} failed: {describe(error, [self.settings.token])}", outcome
        )

    def post(
        self,
        channel: str,
        message: Mapping[str, Any],
        marker: str,
        thread_ts: str | None = None,
    ) -> str:
        """Post (in a thread when ``thread_ts``) with its ``marker`` in the metadata and return
        the ts; raises :class:`SlackDeliveryError` whose ``outcome`` says whether it may have
        arrived."""
        try:
            response = self._post_client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                thread_ts=thread_ts,
                metadata={"event_type": EVENT_TYPE, "event_payload": {"marker": marker}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as error:  # every failure is classified, none re-sent here
            raise self._error("chat.postMessage", error) from None
        return str(response["ts"])

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None:
        """Replace a posted message's content (idempotent, so retried freely)."""
        try:
            self._read_client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            )
        except Exception as error:
            failure = self._error("chat.update", error)
            if failure.outcome is Outcome.UNKNOWN:
                failure.outcome = Outcome.NOT_SENT  # an update can be repeated safely
            raise failure from None

    def capability(self, channel: str) -> Capability:
        """Probe whether posts to ``channel`` can be found again (one cheap history read)."""
        if not CHANNEL_ID.match(channel):
            return Capability(
                False,
                f"channel {channel!r} is given by name; Slack searches history by channel id "
                "only (use the C…/G… id)",
            )
        try:
            self._read_client.conversations_history(channel=channel, limit=1)
        except Exception as error:
            failure = self._error("conversations.history", error)
            if failure.code == "missing_scope":
                return Capability(False, f"the token cannot read history: {failure}")
            if failure.outcome is Outcome.PERMANENT:
                return Capability(True)  # e.g. channel_not_found: the post will say so
            return Capability(None, str(failure))
        return Capability(True)

    def find_posted(
        self,
        channel: str,
        wanted: Mapping[str, str | None],
        oldest: datetime,
        thread_ts: str | None = None,
    ) -> Lookup:
        """Search ``channel`` (or the thread ``thread_ts``) since ``oldest`` for the messages
        of ``wanted`` (dedup key → the marker its row was posted with, None if unknown);
        raises :class:`SlackDeliveryError` when the search fails."""
        if not CHANNEL_ID.match(channel):
            raise SlackDeliveryError(
                f"cannot search channel {channel!r}: given by name", Outcome.PERMANENT
            )
        found: dict[str, str] = {}
        cursor = None
        action = "conversations.replies" if thread_ts else "conversations.history"
        for _ in range(LOOKUP_PAGES):
            arguments = {
                "channel": channel,
                "oldest": f"{oldest.timestamp():.6f}",
                "include_all_metadata": True,
                "limit": 200,
                "cursor": cursor,
            }
            try:
                if thread_ts:
                    page = self._read_client.conversations_replies(ts=thread_ts, **arguments)
                else:
                    page = self._read_client.conversations_history(**arguments)
            except Exception as error:
                raise self._error(action, error) from None
            for message in page.get("messages", []):
                for key in _matches(message, wanted):
                    found.setdefault(key, str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return Lookup(found, complete=True)
        return Lookup(found, complete=False)
