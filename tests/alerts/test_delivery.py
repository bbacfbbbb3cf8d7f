"""Delivering the outbox: one message per window, outages, crashes, no token, CloudWatch.
(The full Slack fault matrix is in tests/faults/test_slack_faults.py.)"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitoring_pipelines.alerts.cloudwatch import CloudWatchTransport
from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.slack import SlackTransport
from monitoring_pipelines.alerts.slack_messages import drift_message, marker
from monitoring_pipelines.stats.alert_policy import (
    Alert,
    AlertSettings,
    DriftRecord,
    decide_alerts,
)
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.schema import alerts
from tests.alerts.conftest import CHANNEL, cloudwatch_settings
from tests.fakes.slack_server import HANG_AFTER_POST, RATE_LIMITED, block_kit_error

HOUR = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * HOUR


def record(hour: int, column: str, status: str = "significant", value: float = 0.4):
    return DriftRecord("credit_risk", T0 + hour * HOUR, T0 + (hour + 1) * HOUR, "hour", column,
                       "psi", value, None, 0.25, status, status != "no_drift")  # fmt: skip


def enqueue_windows(engine, hours=(0, 1, 2), columns=("age", "income")) -> list[int]:
    records = [record(h, c) for h in hours for c in columns]
    decision = decide_alerts(records, {"credit_risk": AlertSettings(cooldown=timedelta(0))}, [])
    return outbox.enqueue(engine, [outbox.alert_entry(a) for a in decision.alerts])


def enqueue_metrics(engine, hours=(0, 1)) -> list[int]:
    scores = [{"column_name": "age", "metric": "psi", "value": 0.4, "drifted": True}]
    return outbox.enqueue(
        engine,
        [
            outbox.metrics_entry("credit_risk", start, start + HOUR, "hour", scores, 100 + h)
            for h, start in ((h, T0 + h * HOUR) for h in hours)
        ],
    )


def rows(engine) -> dict[int, dict]:
    return {row["id"]: row for row in outbox.list_recent(engine, limit=10_000)}


def test_one_message_per_window_with_all_its_alerts(sqlite_engine, slack, fake_slack):
    ids = enqueue_windows(sqlite_engine)
    report = deliver_pending(sqlite_engine, slack, None)
    assert (report.count("slack", "sent"), report.slack_messages) == (6, 3)
    assert len(fake_slack.messages) == 3
    stored = rows(sqlite_engine)
    assert {stored[i]["slack_status"] for i in ids} == {"sent"}
    assert {stored[i]["slack_guarantee"] for i in ids} == {"exactly_once"}
    posted = dict(zip(fake_slack.posted_markers(), fake_slack.messages, strict=True))
    for i in ids:  # each row carries the ts of the message with its marker in header and metadata
        message = posted[stored[i]["slack_marker"]]
        assert message["ts"] == stored[i]["slack_ts"]
        assert message["blocks"][0]["block_id"] == stored[i]["slack_marker"]
    assert sorted(fake_slack.posted_keys(stored.values())) == sorted(
        stored[i]["dedup_key"] for i in ids
    )
    assert deliver_pending(sqlite_engine, slack, None).slack_messages == 0


def test_429_then_200_delivers_one_message(sqlite_engine, slack, fake_slack):
    [row_id] = enqueue_windows(sqlite_engine, hours=(0,), columns=("age",))
    fake_slack.script_for("chat.postMessage", RATE_LIMITED)
    deliver_pending(sqlite_engine, slack, None)
    assert len(fake_slack.posts()) == 2
    assert len(fake_slack.messages) == 1
    row = rows(sqlite_engine)[row_id]
    assert (row["slack_status"], row["slack_attempts"]) == ("sent", 1)
    assert row["slack_ts"] == fake_slack.messages[0]["ts"]


def test_a_503_outage_over_three_runs_posts_each_window_once(sqlite_engine, slack, fake_slack):
    """A 503 may follow a stored post: each window is tried once, then only looked up."""
    ids = enqueue_windows(sqlite_engine)
    fake_slack.down = True
    for run in range(1, 4):
        report = deliver_pending(sqlite_engine, slack, None)
        assert report.count("slack", "unconfirmed") == len(ids)
        stored = rows(sqlite_engine)
        assert {(stored[i]["slack_status"], stored[i]["slack_attempts"]) for i in ids} == {
            ("unconfirmed", 1)
        }
        last_error = stored[ids[0]]["slack_last_error"]
        expected = "chat.postMessage failed" if run == 1 else "duplicate lookup failed"
        assert last_error.startswith(expected), last_error
    assert len(fake_slack.posts()) == 3 and fake_slack.messages == []
    fake_slack.down = False
    report = deliver_pending(sqlite_engine, slack, None)
    assert (report.count("slack", "sent"), report.slack_messages) == (len(ids), 3)
    stored = rows(sqlite_engine)
    posted = Counter(fake_slack.posted_keys(stored.values()))
    assert posted == Counter({stored[i]["dedup_key"]: 1 for i in ids})
    assert {(stored[i]["slack_status"], stored[i]["slack_attempts"]) for i in ids} == {("sent", 2)}
    assert {stored[i]["slack_last_error"] for i in ids} == {None}


def test_connection_refused_keeps_rows_pending_and_counts_attempts(
    sqlite_engine, slack_settings, slack, fake_slack
):
    from dataclasses import replace

    ids = enqueue_windows(sqlite_engine, hours=(0,))
    down = SlackTransport(replace(slack_settings, base_url="http://127.0.0.1:9/api/"))
    for run in (1, 2):
        report = deliver_pending(sqlite_engine, down, None)
        assert report.count("slack", "retrying") == 2
        stored = rows(sqlite_engine)
        assert {(stored[i]["slack_status"], stored[i]["slack_attempts"]) for i in ids} == {
            ("pending", run)
        }
        assert "Connection refused" in stored[ids[0]]["slack_last_error"]
    deliver_pending(sqlite_engine, slack, None)
    assert len(fake_slack.messages) == 1 and len(fake_slack.posts()) == 1


def test_timeout_after_slack_stored_the_message_is_not_reposted(sqlite_engine, slack, fake_slack):
    ids = enqueue_windows(sqlite_engine, hours=(0,))
    fake_slack.script_for("chat.postMessage", HANG_AFTER_POST)
    first = deliver_pending(sqlite_engine, slack, None)
    assert first.count("slack", "unconfirmed") == 2 and "TimeoutError" in first.errors[0]
    assert len(fake_slack.messages) == 1  # Slack has it, we do not know yet
    second = deliver_pending(sqlite_engine, slack, None)
    assert (second.count("slack", "sent"), second.slack_messages, second.slack_lookups) == (
        2,
        0,
        1,
    )
    assert len(fake_slack.messages) == 1 and len(fake_slack.posts()) == 1
    assert {rows(sqlite_engine)[i]["slack_ts"] for i in ids} == {fake_slack.messages[0]["ts"]}
    assert {rows(sqlite_engine)[i]["slack_unconfirmed"] for i in ids} == {True}


def test_crash_between_post_and_record_is_recovered_without_a_second_post(
    sqlite_engine, slack, fake_slack
):
    ids = enqueue_windows(sqlite_engine, hours=(0,))
    group = outbox.pending(sqlite_engine, "slack")
    assert outbox.claim(sqlite_engine, ids, "slack") == ids
    group_marker = marker([r["dedup_key"] for r in group])
    outbox.mark(sqlite_engine, ids, group_marker)  # as a delivery does, before its post
    ts = slack.post(CHANNEL, drift_message(group), group_marker)
    deliver_pending(sqlite_engine, slack, None)  # the claim is fresh: left alone
    assert {rows(sqlite_engine)[i]["slack_status"] for i in ids} == {"sending"}
    deliver_pending(sqlite_engine, slack, None, claim_timeout=timedelta(0))
    assert len(fake_slack.messages) == 1
    assert {rows(sqlite_engine)[i]["slack_ts"] for i in ids} == {ts}


def test_the_same_decision_enqueued_twice_is_sent_once(sqlite_engine, slack, fake_slack):
    enqueue_windows(sqlite_engine, hours=(0,))
    deliver_pending(sqlite_engine, slack, None)
    assert enqueue_windows(sqlite_engine, hours=(0,)) == []
    deliver_pending(sqlite_engine, slack, None)
    assert len(fake_slack.messages) == 1
    with sqlite_engine.connect() as conn:
        duplicates = conn.execute(
            select(alerts.c.dedup_key).group_by(alerts.c.dedup_key).having(func.count() > 1)
        ).all()
    assert duplicates == []


def test_without_a_token_pending_alerts_are_held_with_one_notice(sqlite_engine, caplog):
    ids = enqueue_windows(sqlite_engine, hours=(0,))
    with caplog.at_level(logging.INFO, logger="monitoring_pipelines.alerts.delivery"):
        report = deliver_pending(sqlite_engine, None, None)
    assert report.count("slack", "held") == 2
    notices = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert notices == [
        "Slack is not configured (set SLACK_BOT_TOKEN): 2 alert(s) kept in the outbox"
    ]
    assert {rows(sqlite_engine)[i]["slack_status"] for i in ids} == {"pending"}


def test_cloudwatch_down_then_up_puts_each_window_once(
    sqlite_engine, moto, throttling_proxy, cloudwatch_reader
):
    ids = enqueue_metrics(sqlite_engine)
    down = CloudWatchTransport(cloudwatch_settings("http://127.0.0.1:9", max_attempts=1))
    report = deliver_pending(sqlite_engine, None, down)
    assert report.count("cloudwatch", "retrying") == 2
    assert all("EndpointConnectionError" in rows(sqlite_engine)[i]["cloudwatch_last_error"]
               for i in ids)  # fmt: skip
    up = CloudWatchTransport(cloudwatch_settings(throttling_proxy.url))
    throttling_proxy.throttle = 1
    report = deliver_pending(sqlite_engine, None, up)
    assert (report.count("cloudwatch", "sent"), report.cloudwatch_calls) == (2, 1)
    assert throttling_proxy.throttled == 1
    assert deliver_pending(sqlite_engine, None, up).cloudwatch_calls == 0
    stored = rows(sqlite_engine)
    assert {(stored[i]["cloudwatch_status"], stored[i]["cloudwatch_attempts"]) for i in ids} == {
        ("sent", 2)
    }
    result = cloudwatch_reader.get_metric_statistics(
        Namespace=up.settings.namespace,
        MetricName="rows_scored",
        Dimensions=[{"Name": "ModelName", "Value": "credit_risk"}],
        StartTime=T0 - HOUR,
        EndTime=T0 + 3 * HOUR,
        Period=3600,
        Statistics=["Sum", "SampleCount"],
    )
    points = sorted((p["Timestamp"], p["Sum"], p["SampleCount"]) for p in result["Datapoints"])
    assert [(s, n) for _, s, n in points] == [(100.0, 1.0), (101.0, 1.0)]


def test_windows_older_than_two_weeks_are_skipped_for_cloudwatch(sqlite_engine, cloudwatch):
    scores = [{"column_name": "age", "metric": "psi", "value": 0.4, "drifted": True}]
    old = T0 - timedelta(days=20)
    [row_id] = outbox.enqueue(
        sqlite_engine, [outbox.metrics_entry("credit_risk", old, old + HOUR, "hour", scores, 1)]
    )
    report = deliver_pending(sqlite_engine, None, cloudwatch)
    assert (report.cloudwatch_calls, report.count("cloudwatch", "skipped")) == (0, 1)
    row = rows(sqlite_engine)[row_id]
    assert row["cloudwatch_status"] == "skipped"
    assert "14-day" in row["cloudwatch_last_error"]


def test_a_named_channel_is_posted_at_most_once_and_said_once(sqlite_engine, slack, fake_slack):
    outbox.enqueue(
        sqlite_engine,
        [outbox.run_failure_entry("credit_risk", "run1", "hourly_job", "boom", "#ml-alerts")],
    )
    report = deliver_pending(sqlite_engine, slack, None)
    [message] = fake_slack.messages
    assert message["channel"] == "#ml-alerts"
    assert message["text"] == "Run failed · hourly_job · credit_risk: boom"
    [notice] = report.notices
    assert notice.startswith(
        "Slack duplicate check impossible for #ml-alerts: channel '#ml-alerts'"
    )
    stored = outbox.list_recent(sqlite_engine)
    assert {r["kind"]: r["slack_guarantee"] for r in stored} == {
        "run_failure": "at_most_once",
        "notice": None,
    }
    deliver_pending(sqlite_engine, slack, None)
    assert len([r for r in outbox.list_recent(sqlite_engine) if r["kind"] == "notice"]) == 1


def test_rows_without_any_channel_are_skipped_with_the_reason(sqlite_engine, slack_settings):
    from dataclasses import replace

    transport = SlackTransport(replace(slack_settings, default_channel=None))
    [row_id] = enqueue_windows(sqlite_engine, hours=(0,), columns=("age",))
    report = deliver_pending(sqlite_engine, transport, None)
    row = rows(sqlite_engine)[row_id]
    assert (row["slack_status"], report.count("slack", "skipped")) == ("skipped", 1)
    assert row["slack_last_error"].startswith("no Slack channel for credit_risk")


def test_a_window_of_many_columns_is_one_message_within_slacks_limits(
    sqlite_engine, slack, fake_slack
):
    """The local server rejects blocks beyond Block Kit's limits as Slack does; 200 drifted
    columns × 7 metrics, each with moved categories, are one post, one update on resolve and
    one reply, all accepted."""
    metrics = ("psi", "jensen_shannon", "hellinger", "wasserstein", "ks", "tvd", "z_score")
    columns = [f"{'a_long_and_descriptive_feature_name_' * 2}{i:03d}" for i in range(200)]
    moved = {"categories": [{"value": f"{'category_' * 10}{i}", "reference_share": 0.2,
                             "current_share": 0.5, "new": i == 0} for i in range(3)]}  # fmt: skip

    def entries(kind: str, hour: int) -> list[dict]:
        start = T0 + hour * HOUR
        drifted = kind == "drift"
        return [outbox.alert_entry(
            Alert("credit_risk", kind, "critical" if drifted else "info", start, start + HOUR,
                  "hour", column, metric, 0.5 if drifted else 0.01, None, 0.2,
                  "significant" if drifted else "stable", "test"),
            payload=moved if drifted else None,
        ) for column in columns for metric in metrics]  # fmt: skip

    ids = outbox.enqueue(sqlite_engine, entries("drift", 0))
    deliver_pending(sqlite_engine, slack, None)
    [post] = fake_slack.posts()
    assert len(json.dumps(post.body).encode()) < 16_000  # metadata: one marker, not 1400 keys
    stored = rows(sqlite_engine)
    assert {(stored[i]["slack_status"], stored[i]["slack_ts"]) for i in ids} == {
        ("sent", fake_slack.messages[0]["ts"])
    }
    outbox.enqueue(sqlite_engine, entries("resolved", 3))
    report = deliver_pending(sqlite_engine, slack, None)
    assert report.count("slack", "sent") == len(ids) and not report.errors
    assert len(fake_slack.updates) == 1 and len(fake_slack.messages) == 2
    assert fake_slack.messages[0]["text"].startswith("Resolved · credit_risk")
    assert fake_slack.messages[1]["thread_ts"] == fake_slack.messages[0]["ts"]
    oversized = (
        drift_message([stored[ids[0]]])["blocks"]
        + [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5
    )
    assert block_kit_error(oversized) == "msg_blocks_too_long"  # the server can refuse
