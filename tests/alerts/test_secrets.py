"""The Slack token never appears in logs, exception text or the outbox's last_error."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.redact import RedactingFilter, describe, redact
from monitoring_pipelines.alerts.slack import SlackDeliveryError, SlackSettings, SlackTransport
from monitoring_pipelines.stats.alert_policy import Alert
from monitoring_pipelines.store import alerts as outbox
from tests.alerts.conftest import CHANNEL
from tests.fakes.credentials import fake_secret, fake_slack_token
from tests.fakes.slack_server import ECHO_AUTH, HANG, SERVER_ERROR

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MESSAGE = {"text": "hello", "blocks": []}


def test_an_error_echoing_the_token_is_redacted_everywhere(slack, fake_slack, slack_token, caplog):
    fake_slack.script.append(ECHO_AUTH)
    with caplog.at_level(logging.DEBUG), pytest.raises(SlackDeliveryError) as caught:
        slack.post(CHANNEL, MESSAGE, "mp-k")
    # The server really did send the token back, and slack-sdk really did log the answer:
    assert fake_slack.requests[-1].headers["Authorization"] == f"Bearer {slack_token}"
    received = [r for r in caplog.records if "Received the following response" in r.getMessage()]
    assert received and "[redacted]" in received[0].getMessage()
    assert slack_token not in caplog.text
    assert slack_token not in str(caught.value)
    assert str(caught.value) == "chat.postMessage failed: SlackApiError: invalid_auth (HTTP 200)"


@pytest.mark.parametrize("behaviour", [SERVER_ERROR, HANG])
def test_failures_and_stored_errors_carry_no_token(
    behaviour, sqlite_engine, slack, fake_slack, slack_token, caplog
):
    fake_slack.script.extend([behaviour] * 6)
    alert = Alert("credit_risk", "drift", "critical", T0, T0 + timedelta(hours=1), "hour", "age",
                  "psi", 0.4, None, 0.25, "significant", "test")  # fmt: skip
    [row_id] = outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert)])
    with caplog.at_level(logging.DEBUG):
        report = deliver_pending(sqlite_engine, slack, None)
    assert report.count("slack", "unconfirmed") == 1
    [row] = [r for r in outbox.list_recent(sqlite_engine) if r["id"] == row_id]
    assert row["slack_last_error"]
    for text in (caplog.text, row["slack_last_error"], *report.errors):
        assert slack_token not in text


def test_settings_and_transport_reprs_hide_the_token(slack_settings, slack_token):
    assert slack_token not in repr(slack_settings)
    assert slack_token not in repr(SlackTransport(slack_settings).settings)
    with pytest.raises(ValueError) as caught:
        SlackTransport(SlackSettings(token=""))
    assert "xox" not in str(caught.value)


def test_redaction_of_known_secrets_tokens_and_bearer_values():
    fake_token = fake_slack_token()
    assert redact(f"token {fake_token} failed") == "token [redacted] failed"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    known = fake_secret("key")
    assert redact(f"key {known} in url", [known]) == "key [redacted] in url"
    assert describe(ValueError(f"bad {fake_token}\n  again")) == "ValueError: bad [redacted] again"


def test_redacting_filter_rewrites_messages_and_tracebacks(caplog):
    logger = logging.getLogger("tests.alerts.redacting")
    logger.addFilter(RedactingFilter(["hunter2"]))
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            try:
                raise RuntimeError("password hunter2")
            except RuntimeError:
                logger.exception("failed with %s", "hunter2")
    finally:
        logger.filters.clear()
    assert "hunter2" not in caplog.text
    assert "failed with [redacted]" in caplog.text
    assert "RuntimeError: password [redacted]" in caplog.text
