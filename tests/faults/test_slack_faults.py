"""The Slack fault matrix (issue 14, items 1 and 2): posts accepted by the local Slack server
equal the distinct dedup keys, whatever fails, unless at-least-once was chosen explicitly
(SLACK_UNCONFIRMED_POLICY=resend where no lookup is possible), which adds exactly one post
per unknown outcome, as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.slack import SlackTransport
from monitoring_pipelines.stats.alert_policy import Alert
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.engine import get_engine
from tests.alerts.conftest import CHANNEL
from tests.conftest import postgres_schema
from tests.fakes.slack_server import (
    ACCEPT_THEN_500,
    ACCEPT_THEN_DROP,
    HANG,
    HANG_AFTER_POST,
    KILL_AFTER_ACCEPT,
    LATE_ACCEPT,
    PROXY_HTML,
    RATE_LIMITED,
    SERVER_ERROR,
    UNAVAILABLE,
)

HOUR = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * HOUR
READ_ATTEMPTS = 3  # a lookup call: the first try and slack_settings' two retries


def alert(hour: int, column: str = "age", kind: str = "drift", severity: str = "critical"):
    start = T0 + hour * HOUR
    return Alert("credit_risk", kind, severity, start, start + HOUR, "hour", column, "psi",
                 0.4 if kind == "drift" else 0.01, None, 0.25,
                 "significant" if kind == "drift" else "stable", "test")  # fmt: skip


def enqueue_windows(engine, hours=(0, 1, 2)) -> list[int]:
    """One alert per window: every window is one message with one dedup key."""
    return outbox.enqueue(engine, [outbox.alert_entry(alert(h)) for h in hours])


def slack_rows(engine) -> list[dict]:
    return sorted(
        (r for r in outbox.list_recent(engine, 1000) if r["kind"] not in ("metrics", "notice")),
        key=lambda r: r["id"],
    )


def assert_exactly_once(engine, fake_slack) -> None:
    """Each key posted once, every row sent with the ts of the message that carries it."""
    rows = slack_rows(engine)
    assert Counter(fake_slack.posted_keys(rows)) == Counter({r["dedup_key"]: 1 for r in rows})
    ts_of = {
        marker: m["ts"]
        for marker, m in zip(fake_slack.posted_markers(), fake_slack.messages, strict=True)
    }
    assert [(r["slack_status"], r["slack_ts"]) for r in rows] == [
        ("sent", ts_of[r["slack_marker"]]) for r in rows
    ]


def deliver(engine, slack, runs: int = 1):
    return [deliver_pending(engine, slack, None) for _ in range(runs)][-1]


@pytest.mark.parametrize("fault", [ACCEPT_THEN_DROP, ACCEPT_THEN_500])
def test_slack_sdk_default_retries_post_twice_after_an_accepted_request(fault, fake_slack):
    """The failing behaviour of item 1: the stock handlers re-send an accepted post."""
    client = WebClient(
        token=fake_slack.token,
        base_url=fake_slack.url,
        retry_handlers=[ConnectionErrorRetryHandler(), ServerErrorRetryHandler()],
    )
    fake_slack.script_for("chat.postMessage", fault)
    client.chat_postMessage(channel=CHANNEL, text="drift")
    assert len(fake_slack.messages) == 2  # one alert, two messages in the channel


@pytest.mark.parametrize(
    "fault",
    [ACCEPT_THEN_DROP, ACCEPT_THEN_500, HANG_AFTER_POST, SERVER_ERROR, UNAVAILABLE, PROXY_HTML],
)
def test_unknown_outcomes_are_settled_by_lookup_never_by_a_blind_repost(
    fault, sqlite_engine, slack, fake_slack
):
    ids = enqueue_windows(sqlite_engine)
    fake_slack.script_for("chat.postMessage", fault)
    first = deliver(sqlite_engine, slack)
    assert first.count("slack", "unconfirmed") == 1 and first.count("slack", "sent") == 2
    [unknown] = [r for r in slack_rows(sqlite_engine) if r["slack_status"] == "unconfirmed"]
    assert unknown["id"] == ids[0] and "outcome unknown" in unknown["slack_last_error"]
    deliver(sqlite_engine, slack, runs=2)
    assert_exactly_once(sqlite_engine, fake_slack)
    accepted_before = fault in (ACCEPT_THEN_DROP, ACCEPT_THEN_500, HANG_AFTER_POST)
    assert len(fake_slack.posts()) == 3 + (0 if accepted_before else 1)
    assert {r["slack_attempts"] for r in slack_rows(sqlite_engine)} == {1} | (
        set() if accepted_before else {2}
    )


def test_429_with_retry_after_is_waited_out_and_posted_once(sqlite_engine, slack, fake_slack):
    enqueue_windows(sqlite_engine)
    fake_slack.retry_after = "1"
    fake_slack.script_for("chat.postMessage", RATE_LIMITED)
    started = time.monotonic()
    report = deliver(sqlite_engine, slack)
    assert time.monotonic() - started >= 1.0  # slack-sdk honoured Retry-After
    assert report.count("slack", "sent") == 3
    assert len(fake_slack.posts()) == 4
    assert_exactly_once(sqlite_engine, fake_slack)


def test_timeout_after_accept_with_history_500_keeps_the_flag_and_retries_the_lookup(
    sqlite_engine, slack, fake_slack
):
    ids = enqueue_windows(sqlite_engine, hours=(0,))
    fake_slack.script_for("chat.postMessage", HANG_AFTER_POST)
    # every history call of two runs fails: the start-up probes and the first lookup
    fake_slack.script_for("conversations.history", *[SERVER_ERROR] * (3 * READ_ATTEMPTS))
    deliver(sqlite_engine, slack)
    report = deliver(sqlite_engine, slack)
    [row] = slack_rows(sqlite_engine)
    assert row["slack_status"] == "unconfirmed" and report.count("slack", "unconfirmed") == 1
    assert row["slack_last_error"].startswith("duplicate lookup failed, will look again")
    assert len(fake_slack.posts()) == 1
    deliver(sqlite_engine, slack)
    assert_exactly_once(sqlite_engine, fake_slack)
    assert [r["id"] for r in slack_rows(sqlite_engine)] == ids


def test_a_lookup_that_times_out_or_loses_its_scope_never_reposts(sqlite_engine, slack, fake_slack):
    enqueue_windows(sqlite_engine, hours=(0,))
    fake_slack.script_for("chat.postMessage", ACCEPT_THEN_DROP)
    deliver(sqlite_engine, slack)
    fake_slack.script_for("conversations.history", "ok", HANG)
    deliver(sqlite_engine, slack)  # probe ok, lookup times out (a timeout is not retried)
    assert slack_rows(sqlite_engine)[0]["slack_status"] == "unconfirmed"
    fake_slack.scopes = {"chat:write"}  # the scope was removed from the app meanwhile
    deliver(sqlite_engine, slack)
    [row] = slack_rows(sqlite_engine)
    assert (row["slack_status"], row["slack_guarantee"]) == ("unconfirmed", "at_most_once")
    assert len(fake_slack.posts()) == 1
    fake_slack.scopes.add("channels:history")
    deliver(sqlite_engine, slack)
    assert_exactly_once(sqlite_engine, fake_slack)


def test_missing_history_scope_waits_at_most_once_and_says_so_once(
    sqlite_engine, slack, fake_slack
):
    enqueue_windows(sqlite_engine)
    fake_slack.scopes = {"chat:write"}
    fake_slack.script_for("chat.postMessage", ACCEPT_THEN_DROP)
    first = deliver(sqlite_engine, slack)
    [notice] = first.notices
    assert notice.startswith(f"Slack duplicate check impossible for {CHANNEL}: the token cannot ")
    assert "missing_scope" in notice and "channels:history" in notice
    assert "kept unconfirmed (at most once): SLACK_UNCONFIRMED_POLICY=wait" in notice
    deliver(sqlite_engine, slack, runs=2)
    rows = slack_rows(sqlite_engine)
    assert [(r["slack_status"], r["slack_guarantee"]) for r in rows] == [
        ("unconfirmed", "at_most_once"),
        ("sent", "at_most_once"),
        ("sent", "at_most_once"),
    ]
    assert "SLACK_UNCONFIRMED_POLICY=wait" in rows[0]["slack_last_error"]
    assert len(fake_slack.messages) == 3  # posts seen = distinct keys: the unknown one arrived
    assert Counter(fake_slack.posted_keys(rows)) == Counter({r["dedup_key"]: 1 for r in rows})
    notices = [r for r in outbox.list_recent(sqlite_engine) if r["kind"] == "notice"]
    assert [n["reason"] for n in notices] == [notice]  # said once, across three runs


def test_missing_history_scope_with_resend_is_at_least_once_exactly_as_documented(
    sqlite_engine, slack_settings, fake_slack
):
    slack = SlackTransport(replace(slack_settings, unconfirmed_policy="resend"))
    ids = enqueue_windows(sqlite_engine)
    fake_slack.scopes = {"chat:write"}
    fake_slack.script_for("chat.postMessage", ACCEPT_THEN_DROP)
    deliver(sqlite_engine, slack, runs=3)
    rows = slack_rows(sqlite_engine)
    assert [(r["slack_status"], r["slack_guarantee"]) for r in rows] == [
        ("sent", "at_least_once")
    ] * 3
    keys = Counter(fake_slack.posted_keys(rows))
    assert keys[rows[0]["dedup_key"]] == 2  # the one unknown outcome was posted once more
    assert sum(keys.values()) == len(ids) + 1


def test_a_post_accepted_after_the_client_gave_up_is_found_once_settled(
    sqlite_engine, slack_settings, fake_slack
):
    """Why a lookup waits: Slack may store a post after the client timed out."""
    slack = SlackTransport(replace(slack_settings, settle_seconds=2.5))
    enqueue_windows(sqlite_engine, hours=(0,))
    fake_slack.script_for("chat.postMessage", LATE_ACCEPT)  # stored 2 s in, after the timeout
    deliver(sqlite_engine, slack)
    assert fake_slack.messages == []  # not stored yet: a lookup now would say "absent"
    early = deliver(sqlite_engine, slack)
    assert early.count("slack", "waiting") == 1 and early.slack_lookups == 0
    time.sleep(2.6)
    deliver(sqlite_engine, slack)
    assert_exactly_once(sqlite_engine, fake_slack)


def test_a_threaded_reply_dropped_after_accept_is_looked_up_in_its_thread(
    sqlite_engine, slack, fake_slack
):
    outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert(0))])
    deliver(sqlite_engine, slack)
    outbox.enqueue(sqlite_engine, [outbox.alert_entry(alert(1, kind="resolved", severity="info"))])
    fake_slack.script_for("chat.postMessage", ACCEPT_THEN_DROP)
    fake_slack.script_for("chat.update", SERVER_ERROR)  # retried by the read client
    assert deliver(sqlite_engine, slack).count("slack", "unconfirmed") == 1
    deliver(sqlite_engine, slack, runs=2)
    assert_exactly_once(sqlite_engine, fake_slack)
    parent, reply = fake_slack.messages
    assert reply["thread_ts"] == parent["ts"]
    assert fake_slack.calls("conversations.replies")[-1].body["ts"] == parent["ts"]
    assert len(fake_slack.updates) == 1 and parent["text"].startswith("Resolved · credit_risk")


def test_kill_9_between_post_and_record_is_recovered_without_a_second_post(
    sqlite_url, sqlite_engine, slack, fake_slack, slack_token
):
    enqueue_windows(sqlite_engine, hours=(0, 1))
    code = (
        "from monitoring_pipelines.alerts.delivery import deliver_pending\n"
        "from monitoring_pipelines.alerts.slack import SlackSettings, SlackTransport\n"
        "from monitoring_pipelines.store.engine import get_engine\n"
        "deliver_pending(get_engine(), SlackTransport(SlackSettings.from_env()), None)\n"
    )
    env = os.environ | {
        "MONITORING_DATABASE_URL": sqlite_url,
        "SLACK_BOT_TOKEN": slack_token,
        "SLACK_BASE_URL": fake_slack.url,
        "SLACK_CHANNEL": CHANNEL,
    }
    fake_slack.script_for("chat.postMessage", KILL_AFTER_ACCEPT)
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    fake_slack.kill_pid = process.pid
    assert process.wait(timeout=120) == -9  # killed after Slack stored the first message
    assert len(fake_slack.messages) == 1
    assert [r["slack_status"] for r in slack_rows(sqlite_engine)] == ["sending", "pending"]
    deliver_pending(sqlite_engine, slack, None)  # a fresh claim is left alone ...
    assert slack_rows(sqlite_engine)[0]["slack_status"] == "sending"
    deliver_pending(sqlite_engine, slack, None, claim_timeout=timedelta(0))  # ... a stale one not
    assert_exactly_once(sqlite_engine, fake_slack)
    assert slack_rows(sqlite_engine)[0]["slack_unconfirmed"] is True


@pytest.mark.postgres
def test_two_deliveries_at_once_on_postgresql_post_each_key_once(slack, fake_slack):
    """Two alert-job runs overlap (a drift run and a retry run): claims are per row and
    atomic, so each key is posted by exactly one of them."""
    with postgres_schema("mp_outbox") as url:
        engine = get_engine(url)
        ids = outbox.enqueue(
            engine,
            [outbox.alert_entry(alert(h, column)) for h in range(10) for column in ("a", "b")],
        )
        fake_slack.post_delay = 0.05
        barrier = threading.Barrier(2)

        def run() -> None:
            barrier.wait()
            deliver_pending(engine, slack, None)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(slack_rows(engine)) == len(ids)
        assert_exactly_once(engine, fake_slack)
        engine.dispose()
