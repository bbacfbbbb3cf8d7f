"""The Slack transport with the real slack-sdk client against the local Slack server: what
is retried inside one call (only what never reached Slack), how failures are classified,
lookups by dedup key (history, threads, pages, block_id), capability probes, updates."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.error import URLError

import pytest

from monitoring_pipelines.alerts.slack import (
    NeverReachedSlackRetryHandler,
    Outcome,
    SlackDeliveryError,
    SlackSettings,
    SlackTransport,
    never_reached,
)
from monitoring_pipelines.alerts.slack_messages import marker
from tests.alerts.conftest import CHANNEL, UI_URL
from tests.fakes.credentials import fake_slack_token
from tests.fakes.slack_server import (
    ACCEPT_THEN_500,
    ACCEPT_THEN_DROP,
    HANG,
    HANG_AFTER_POST,
    PROXY_HTML,
    RATE_LIMITED,
    SERVER_ERROR,
    UNAVAILABLE,
)

HEADER = {"type": "header", "block_id": "b1", "text": {"type": "plain_text", "text": "hi"}}
MESSAGE = {"text": "hello", "blocks": [HEADER]}
LONG_AGO = datetime.now(UTC) - timedelta(days=1)


def test_post_reaches_the_local_server_with_its_markers(slack, fake_slack, slack_token):
    ts = slack.post(CHANNEL, MESSAGE, marker(["k1", "k2"]))
    [request] = fake_slack.posts()
    assert request.headers["Authorization"] == f"Bearer {slack_token}"
    assert request.body["channel"] == CHANNEL
    assert request.body["metadata"] == {
        "event_type": "monitoring_alert",
        "event_payload": {"marker": marker(["k1", "k2"])},
    }
    assert fake_slack.messages[0]["ts"] == ts


def test_429_with_retry_after_is_retried_inside_the_call(slack, fake_slack):
    fake_slack.script_for("chat.postMessage", RATE_LIMITED)
    slack.post(CHANNEL, MESSAGE, "mp-k")
    assert (len(fake_slack.posts()), len(fake_slack.messages)) == (2, 1)


@pytest.mark.parametrize(
    "fault", [ACCEPT_THEN_500, ACCEPT_THEN_DROP, SERVER_ERROR, UNAVAILABLE, PROXY_HTML]
)
def test_a_post_that_may_have_arrived_is_never_resent_by_the_client(fault, slack, fake_slack):
    """slack-sdk's default handlers would re-send these (connection reset, 500/503)."""
    fake_slack.script_for("chat.postMessage", fault)
    with pytest.raises(SlackDeliveryError) as caught:
        slack.post(CHANNEL, MESSAGE, "mp-k")
    assert caught.value.outcome is Outcome.UNKNOWN and caught.value.maybe_sent
    assert len(fake_slack.posts()) == 1


def test_timeouts_are_unknown_outcomes(slack, fake_slack):
    for fault in (HANG, HANG_AFTER_POST):
        fake_slack.script_for("chat.postMessage", fault)
        started = time.monotonic()
        with pytest.raises(SlackDeliveryError, match="TimeoutError") as caught:
            slack.post(CHANNEL, MESSAGE, "mp-k")
        assert caught.value.outcome is Outcome.UNKNOWN
        assert time.monotonic() - started < 1.9
    assert len(fake_slack.posts()) == 2


def test_connection_refused_is_retried_and_then_not_sent(slack_settings):
    from dataclasses import replace

    down = SlackTransport(replace(slack_settings, base_url="http://127.0.0.1:9/api/"))
    with pytest.raises(SlackDeliveryError, match="Connection refused") as caught:
        down.post(CHANNEL, MESSAGE, "mp-k")
    assert caught.value.outcome is Outcome.NOT_SENT
    assert never_reached(URLError(ConnectionRefusedError(111, "refused")))
    assert not never_reached(URLError(TimeoutError("timed out")))
    assert not never_reached(ConnectionResetError())
    handler = NeverReachedSlackRetryHandler(max_retry_count=1)
    assert handler.can_retry(state=_State(), request=None, error=URLError(ConnectionRefusedError()))


class _State:
    current_attempt = 0


@pytest.mark.parametrize(
    ("error", "outcome"),
    [("channel_not_found", Outcome.PERMANENT), ("not_in_channel", Outcome.PERMANENT),
     ("invalid_auth", Outcome.PERMANENT), ("token_revoked", Outcome.PERMANENT),
     ("account_inactive", Outcome.PERMANENT)],
)  # fmt: skip
def test_slack_rejections_are_permanent(error, outcome, slack, fake_slack):
    if error in ("channel_not_found", "not_in_channel"):
        fake_slack.channels = {"C0OTHER01"} if error == "channel_not_found" else None
        fake_slack.members_only = {CHANNEL} if error == "not_in_channel" else set()
    elif error == "invalid_auth":
        fake_slack.token = fake_slack_token()
    else:
        fake_slack.token_error = error
    with pytest.raises(SlackDeliveryError) as caught:
        slack.post(CHANNEL, MESSAGE, "mp-k")
    assert (caught.value.outcome, caught.value.code) == (outcome, error)
    assert str(caught.value) == f"chat.postMessage failed: SlackApiError: {error} (HTTP 200)"


def test_find_posted_by_metadata_and_by_block_id_across_pages(slack, fake_slack):
    ts = slack.post(CHANNEL, MESSAGE, "mp-12")
    found = slack.find_posted(CHANNEL, {"k1": "mp-12", "k2": "mp-12", "k3": "mp-3"}, LONG_AGO)
    assert (found.found, found.complete) == ({"k1": ts, "k2": ts}, True)
    assert slack.find_posted("C0OTHER01", {"k2": "mp-12"}, LONG_AGO).found == {}
    assert slack.find_posted(CHANNEL, {"k1": None}, LONG_AGO).found == {}  # never marked
    fake_slack.messages[0]["metadata"] = None  # a workspace that strips metadata
    assert slack.find_posted(CHANNEL, {"k1": "mp-12"}, LONG_AGO).found == {}
    fake_slack.messages[0]["blocks"][0]["block_id"] = "mp-12"
    assert slack.find_posted(CHANNEL, {"k1": "mp-12"}, LONG_AGO).found == {"k1": ts}
    fake_slack.page_size = 2
    for i in range(5):
        slack.post(CHANNEL, MESSAGE, f"mp-filler{i}")
    assert slack.find_posted(CHANNEL, {"k1": "mp-12"}, LONG_AGO).found == {"k1": ts}
    assert len(fake_slack.calls("conversations.history")) >= 1 + 1 + 3


def test_a_message_of_the_previous_release_is_found_by_its_dedup_keys(slack, fake_slack):
    """Messages posted before markers list the dedup keys in their metadata."""
    ts = slack.post(CHANNEL, MESSAGE, "unused")
    fake_slack.messages[0]["metadata"] = {
        "event_type": "monitoring_alert",
        "event_payload": {"dedup_keys": ["old1", "old2"]},
    }
    found = slack.find_posted(CHANNEL, {"old2": None, "old3": None}, LONG_AGO)
    assert found.found == {"old2": ts}


def test_find_posted_in_a_thread_uses_replies(slack, fake_slack):
    parent = slack.post(CHANNEL, MESSAGE, "mp-parent")
    reply = slack.post(CHANNEL, MESSAGE, "mp-reply", thread_ts=parent)
    wanted = {"reply": "mp-reply"}
    assert slack.find_posted(CHANNEL, wanted, LONG_AGO).found == {}  # history: top level
    assert slack.find_posted(CHANNEL, wanted, LONG_AGO, thread_ts=parent).found == {"reply": reply}
    assert fake_slack.calls("conversations.replies")[-1].body["ts"] == parent


def test_lookup_failures_and_capabilities(slack, fake_slack):
    assert slack.capability(CHANNEL).possible is True
    assert slack.capability("#alerts").possible is False
    assert "given by name" in slack.capability("#alerts").reason
    fake_slack.script_for("conversations.history", SERVER_ERROR, SERVER_ERROR, SERVER_ERROR)
    probe = slack.capability(CHANNEL)
    assert probe.possible is None and "internal_error" in probe.reason
    fake_slack.script_for("conversations.history", SERVER_ERROR, SERVER_ERROR, SERVER_ERROR)
    with pytest.raises(SlackDeliveryError, match=r"conversations\.history failed"):
        slack.find_posted(CHANNEL, {"k": "mp-k"}, LONG_AGO)
    fake_slack.scopes = {"chat:write"}
    missing = slack.capability(CHANNEL)
    assert missing.possible is False
    assert "missing_scope" in missing.reason and "channels:history" in missing.reason


def test_update_replaces_a_message_and_retries_freely(slack, fake_slack):
    ts = slack.post(CHANNEL, MESSAGE, "mp-k")
    fake_slack.script_for("chat.update", SERVER_ERROR)
    slack.update(CHANNEL, ts, {"text": "updated", "blocks": []})
    assert fake_slack.messages[0]["text"] == "updated"
    assert len(fake_slack.calls("chat.update")) == 2
    with pytest.raises(SlackDeliveryError) as caught:
        slack.update(CHANNEL, "1.000001", {"text": "x", "blocks": []})
    assert (caught.value.code, caught.value.outcome) == ("message_not_found", Outcome.PERMANENT)


def test_settings_from_env_validate_policy_settle_and_report_url():
    token = fake_slack_token()
    settings = SlackSettings.from_env(
        {"SLACK_BOT_TOKEN": token, "SLACK_CHANNEL": "C0X", "DAGSTER_UI_URL": UI_URL,
         "SLACK_UNCONFIRMED_POLICY": "Resend", "SLACK_LOOKUP_SETTLE_SECONDS": "5"}
    )  # fmt: skip
    assert (settings.token, settings.default_channel, settings.ui_url) == (
        token,
        "C0X",
        UI_URL,
    )
    assert (settings.unconfirmed_policy, settings.settle_seconds) == ("resend", 5.0)
    assert token not in repr(settings)
    defaults = SlackSettings.from_env({})
    assert (defaults.base_url, defaults.unconfirmed_policy) == ("https://slack.com/api/", "wait")
    with pytest.raises(ValueError, match="SLACK_UNCONFIRMED_POLICY='maybe'"):
        SlackSettings.from_env({"SLACK_UNCONFIRMED_POLICY": "maybe"})
    with pytest.raises(ValueError, match="SLACK_LOOKUP_SETTLE_SECONDS must be a number"):
        SlackSettings.from_env({"SLACK_LOOKUP_SETTLE_SECONDS": "soon"})
    with pytest.raises(ValueError, match="bad report URL template"):
        SlackSettings.from_env({"MONITORING_REPORT_URL": "https://r/{model}"})
    with pytest.raises(ValueError, match="set SLACK_BOT_TOKEN"):
        SlackTransport(SlackSettings.from_env({}))
