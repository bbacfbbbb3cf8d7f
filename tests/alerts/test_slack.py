"""Slack: Block Kit messages, and the real slack-sdk client against the local Slack server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from monitoring_pipelines.alerts.slack import (
    SlackDeliveryError,
    SlackSettings,
    SlackTransport,
    asset_url,
    drift_message,
    resolved_message,
    run_failure_message,
)
from tests.alerts.conftest import CHANNEL, UI_URL
from tests.fakes.slack_server import HANG, RATE_LIMITED, SERVER_ERROR

T0 = datetime(2026, 11, 1, 3, tzinfo=UTC)


def row(column: str, value: float, severity: str = "warning", threshold: float = 0.25) -> dict:
    return {
        "deployment_id": "credit_risk",
        "kind": "drift",
        "window_start": T0,
        "window_end": T0 + timedelta(hours=1),
        "granularity": "hour",
        "column_name": column,
        "metric": "psi",
        "value": value,
        "p_value": None,
        "threshold": threshold,
        "status": "significant" if severity == "critical" else "moderate",
        "severity": severity,
    }


def test_drift_message_lists_the_worst_columns_first_with_a_link():
    rows = [row(f"c{i}", 0.1 + i / 100) for i in range(11)] + [row("age", 0.3, "critical")]
    message = drift_message(rows, UI_URL, top=10)
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == "Critical drift: credit_risk"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[0] == "*Deployment*\ncredit_risk"
    assert fields[1] == "*Severity*\n:red_circle: critical"
    assert fields[2] == "*Window*\n2026-11-01 03:00 – 04:00 UTC (hour)"
    lines = blocks[2]["text"]["text"].split("\n")
    assert lines[0] == "• `age` psi 0.3 (threshold 0.25, significant, critical)"
    assert lines[1] == "• `c10` psi 0.2 (threshold 0.25, moderate, warning)"
    assert lines[10] == "…and 2 more"
    assert len(lines) == 11
    button = blocks[3]["elements"][0]
    assert button["url"] == (
        "http://dagster.test:3000/assets/drift_scores?view=partitions"
        "&partition=credit_risk%7C2026-11-01-03%3A00"
    )
    assert message["text"].startswith("Critical drift: credit_risk, 2026-11-01 03:00")


def test_messages_without_ui_url_have_no_button_and_resolved_and_failure_read_well():
    assert [b["type"] for b in drift_message([row("age", 0.3)], None)["blocks"]] == [
        "header",
        "section",
        "section",
    ]
    resolved = resolved_message([row("age", 0.01), row("region", 0.02)], UI_URL)
    assert resolved["text"] == (
        "Resolved: credit_risk, back to stable in 2026-11-01 03:00 – 04:00 UTC (hour): "
        "`age` psi, `region` psi"
    )
    failure = {
        "deployment_id": "credit_risk",
        "reason": "ValueError: boom",
        "payload": {"run_id": "abc123", "job_name": "hourly_job"},
    }
    message = run_failure_message(failure, UI_URL)
    assert message["text"] == "Run failed: hourly_job (credit_risk): ValueError: boom"
    assert message["blocks"][-1]["elements"][0]["url"] == "http://dagster.test:3000/runs/abc123"
    assert asset_url(UI_URL + "/", "m", None) == "http://dagster.test:3000/assets/drift_scores"


def test_post_reaches_the_local_server_with_metadata(slack, fake_slack, slack_token):
    ts = slack.post(CHANNEL, drift_message([row("age", 0.3)], UI_URL), ["k1", "k2"])
    [request] = fake_slack.posts()
    assert request.headers["Authorization"] == f"Bearer {slack_token}"
    assert request.body["channel"] == CHANNEL
    assert request.body["metadata"]["event_payload"]["dedup_keys"] == ["k1", "k2"]
    assert fake_slack.messages[0]["ts"] == ts


def test_429_with_retry_after_then_200_delivers_one_message(slack, fake_slack):
    fake_slack.script.extend([RATE_LIMITED])
    slack.post(CHANNEL, drift_message([row("age", 0.3)], None), ["k"])
    assert len(fake_slack.posts()) == 2
    assert len(fake_slack.messages) == 1


def test_server_errors_are_retried_then_reported(slack, fake_slack):
    fake_slack.script.extend([SERVER_ERROR, SERVER_ERROR])
    slack.post(CHANNEL, drift_message([row("age", 0.3)], None), ["k"])
    assert len(fake_slack.messages) == 1
    fake_slack.down = True
    with pytest.raises(SlackDeliveryError, match="HTTP 500") as caught:
        slack.post(CHANNEL, drift_message([row("age", 0.3)], None), ["k"])
    assert not caught.value.maybe_sent
    assert len(fake_slack.posts()) == 3 + 3


def test_a_hanging_server_times_out_with_an_unknown_outcome(slack, fake_slack):
    fake_slack.script.append(HANG)
    started = time.monotonic()
    with pytest.raises(SlackDeliveryError, match="TimeoutError") as caught:
        slack.post(CHANNEL, drift_message([row("age", 0.3)], None), ["k"])
    assert caught.value.maybe_sent
    assert time.monotonic() - started < 1.9


def test_find_posted_searches_channel_ids_by_dedup_key(slack, fake_slack):
    before = datetime.now(UTC) - timedelta(days=365 * 10)
    ts = slack.post(CHANNEL, drift_message([row("age", 0.3)], None), ["k1", "k2"])
    assert slack.find_posted(CHANNEL, ["k2"], before) == ts
    assert slack.find_posted(CHANNEL, ["other"], before) is None
    assert slack.find_posted("#alerts", ["k2"], before) is None


def test_settings_from_env_and_no_token():
    settings = SlackSettings.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-1-secret", "SLACK_CHANNEL": "C0X", "DAGSTER_UI_URL": UI_URL}
    )
    assert (settings.token, settings.default_channel, settings.ui_url) == (
        "xoxb-1-secret",
        "C0X",
        UI_URL,
    )
    assert "secret" not in repr(settings)
    assert SlackSettings.from_env({}).base_url == "https://slack.com/api/"
    with pytest.raises(ValueError, match="set SLACK_BOT_TOKEN"):
        SlackTransport(SlackSettings.from_env({}))
