"""drift_threshold_sensor ticks through build_sensor_context: first tick, nothing new, new
breaches, restarts, cooldown, resolved notices, batching, retries and many deployments."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml

from monitoring_pipelines.config import ConfigError, load_config
from monitoring_pipelines.defs.alert_resources import DisabledMetricSink, RunLogAlertSink
from monitoring_pipelines.defs.alerting import build_alerting
from monitoring_pipelines.defs.sensors.drift_threshold import (
    cursor_seq,
    format_cursor,
    read_new_windows,
)
from monitoring_pipelines.store import alerts as outbox
from tests.conftest import postgres_schema
from tests.defs.drift_harness import HOUR, LIVE_SINKS, T0, Harness, write_config
from tests.store.legacy import T0 as LEGACY_T0
from tests.store.legacy import load_previous_release


@pytest.fixture
def harness(tmp_path, dagster_instance) -> Harness:
    return Harness(tmp_path, dagster_instance)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A schema of its own on the test server, so this test sees only its own rows."""
    with postgres_schema("mp_sensor") as url:
        yield url


def key(hour: int, column: str, level: str, deployment: str = "model_a") -> str:
    return f"{deployment}|hour|{(T0 + hour * HOUR).isoformat()}|{column}|psi|{level}"


def drift_alerts(rows: list[dict]) -> list[tuple]:
    return [
        (r["dedup_key"], r["kind"], r["severity"], r["slack_channel"])
        for r in rows
        if r["kind"] != outbox.METRICS
    ]


def test_first_tick_without_scores_skips(harness):
    result = harness.tick(None)
    assert result.skip_reason.skip_message == "no new hourly drift windows after commit_seq 0"
    assert not result.run_requests and result.cursor is None
    assert harness.outbox() == []


def test_new_breaches_become_exact_alerts_and_one_run_request(harness):
    harness.write(0, {"age": "significant", "income": "moderate", "region": "no_drift"})
    result = harness.tick(None)
    rows = harness.outbox()
    assert drift_alerts(rows) == [
        (key(0, "age", "critical"), "drift", "critical", "C0CRITIC1"),
        (key(0, "income", "warning"), "drift", "warning", "C0CRITIC1"),  # one message per window
    ]
    [metrics] = [r for r in rows if r["kind"] == outbox.METRICS]
    assert metrics["cloudwatch"]["rows_scored"] == 400
    assert sorted(s["column_name"] for s in metrics["cloudwatch"]["scores"]) == [
        "age",
        "income",
        "region",
    ]
    assert result.cursor == "commit_seq:1"  # the first window written
    [request] = result.run_requests
    ids = [r["id"] for r in rows]
    assert request.run_key == f"outbox:{min(ids)}-{max(ids)}"
    assert request.tags["monitoring/alerts"] == "2"


def test_nothing_new_after_the_cursor_skips_without_reading_again(harness):
    harness.write(0, {"age": "significant"})
    first = harness.tick(None)
    before = harness.outbox()
    second = harness.tick(first.cursor)
    assert second.skip_reason.skip_message == "no new hourly drift windows after commit_seq 1"
    assert not second.run_requests and second.cursor == first.cursor
    assert harness.outbox() == before


def test_restart_that_lost_its_cursor_judges_nothing_twice(harness):
    harness.write(0, {"age": "significant", "income": "moderate"})
    first = harness.tick(None)
    before = harness.outbox()
    replay = harness.tick(None)  # the first tick's cursor was never saved
    assert replay.skip_reason.skip_message == "2 new drift scores, nothing new to deliver"
    assert replay.cursor == first.cursor and not replay.run_requests
    assert harness.outbox() == before


def test_rewritten_window_gets_new_ids_but_is_not_alerted_again(harness):
    harness.write(0, {"age": "significant"})
    first = harness.tick(None)
    before = harness.outbox()
    harness.write(0, {"age": "significant"})  # a backfill re-materializes the hour
    again = harness.tick(first.cursor)
    assert cursor_seq(harness.engine, again.cursor) > cursor_seq(harness.engine, first.cursor)
    assert again.skip_reason is not None and not again.run_requests
    assert harness.outbox() == before


def test_cooldown_then_realert_then_resolved(harness):
    timeline = ["significant", "significant", "significant", "significant", "no_drift"]
    cursor = None
    requested = []
    for hour, status in enumerate(timeline):
        harness.write(hour, {"age": status})
        result = harness.tick(cursor)
        cursor = result.cursor
        requested.append(len(result.run_requests or []))
    # Hand-worked with a 120-minute cooldown: alert at 0, held at 1 (60 min), alert again at
    # 2 (120 min is not < 120), held at 3, resolved at 4. Every hour adds its metrics row, so
    # every tick requests a run.
    assert drift_alerts(harness.outbox()) == [
        (key(0, "age", "critical"), "drift", "critical", "C0CRITIC1"),
        (key(2, "age", "critical"), "drift", "critical", "C0CRITIC1"),
        (key(4, "age", "resolved"), "resolved", "info", "C0MODELS1"),
    ]
    assert requested == [1, 1, 1, 1, 1]
    assert [r["reason"] for r in harness.outbox() if r["kind"] != outbox.METRICS] == [
        "significant: severity critical",
        "still critical after cooldown 2:00:00",
        "returned to stable after an alert",
    ]


def test_batches_never_split_a_window(tmp_path, dagster_instance):
    harness = Harness(tmp_path, dagster_instance, batch_size=4)
    three = {"age": "significant", "income": "no_drift", "region": "no_drift"}
    for hour in range(3):
        harness.write(hour, three)
    five = {c: "no_drift" for c in ("a", "b", "c", "d", "e")}
    harness.write(3, five)
    cursors, windows = [], []
    cursor = None
    for _ in range(5):
        result = harness.tick(cursor)
        cursor = result.cursor or cursor
        cursors.append(result.cursor)
        windows.append(len([r for r in harness.outbox() if r["kind"] == outbox.METRICS]))
    # 4-row batches hold one 3-row window each; the 5-row window is read whole; then nothing.
    assert cursors == [format_cursor(seq) for seq in (1, 2, 3, 4, 4)]
    assert windows == [1, 2, 3, 4, 4]
    reads = [read_new_windows(harness.engine, after, 4) for after in (0, 3, 4)]
    assert [(len(rows), up_to) for rows, up_to in reads] == [(3, 1), (5, 4), (0, None)]


def test_failed_deliveries_request_one_retry_per_slot(harness):
    harness.write(0, {"age": "significant"})
    first = harness.tick(None)
    assert harness.tick(first.cursor).skip_reason is not None  # pending, never tried: no retry
    [alert] = [r for r in harness.outbox() if r["kind"] == "drift"]
    outbox.claim(harness.engine, [alert["id"]], "slack")
    outbox.record_attempt(harness.engine, alert["id"], "slack", ok=False, error="HTTP 500")
    [retry] = harness.tick(first.cursor).run_requests
    assert retry.run_key == f"retry:{int(time.time() // 900)}"
    assert harness.tick(first.cursor).run_requests[0].run_key == retry.run_key


def test_no_retry_run_is_requested_for_a_channel_that_is_not_configured(tmp_path, dagster_instance):
    """A retry run without a transport would only hold the rows again, every 15 minutes."""
    quiet = {"slack": RunLogAlertSink(), "cloudwatch": DisabledMetricSink()}
    harness = Harness(tmp_path, dagster_instance, sinks=LIVE_SINKS)
    harness.write(0, {"age": "significant"})
    first = harness.tick(None)
    [alert] = [r for r in harness.outbox() if r["kind"] == "drift"]
    outbox.claim(harness.engine, [alert["id"]], "slack")
    outbox.record(harness.engine, alert["id"], "slack", outbox.UNCONFIRMED, error="timeout")
    assert len(harness.tick(first.cursor).run_requests) == 1
    harness.sinks = quiet | {"cloudwatch": LIVE_SINKS["cloudwatch"]}  # the token was removed
    result = harness.tick(first.cursor)
    assert result.run_requests == [] and result.skip_reason is not None
    harness.sinks = LIVE_SINKS | {"cloudwatch": quiet["cloudwatch"]}
    assert len(harness.tick(first.cursor).run_requests) == 1


def test_unknown_deployment_is_skipped_and_logged_not_alerted(harness):
    harness.write(0, {"age": "significant"}, deployment="model_gone")
    result = harness.tick(None)
    assert drift_alerts(harness.outbox()) == []
    [request] = result.run_requests  # its metrics still go to CloudWatch
    assert request.tags["monitoring/alerts"] == "0"


def test_one_tick_covers_many_deployments(tmp_path, dagster_instance):
    ids = [f"model_{i:03d}" for i in range(200)]
    harness = Harness(tmp_path, dagster_instance, ids=ids)
    columns = [f"feature_{c:02d}" for c in range(10)]
    statuses = {"feature_00": "significant"} | dict.fromkeys(columns[1:], "no_drift")
    for deployment in ids:
        harness.write(0, statuses, deployment=deployment)
    result = harness.tick(None)
    rows = harness.outbox()
    assert len([r for r in rows if r["kind"] == "drift"]) == 200
    assert len([r for r in rows if r["kind"] == outbox.METRICS]) == 200
    assert result.cursor == format_cursor(200)
    assert harness.tick(result.cursor).skip_reason is not None


def test_bad_cursor_names_itself(harness):
    assert cursor_seq(harness.engine, None) == cursor_seq(harness.engine, "") == 0
    assert cursor_seq(harness.engine, "commit_seq:42") == 42
    for bad in ("x1", "commit_seq:", "commit_seq:-1"):
        with pytest.raises(ValueError, match=f"bad drift_threshold_sensor cursor '{bad}'"):
            cursor_seq(harness.engine, bad)


def test_bad_alerts_block_fails_on_load_naming_the_field(tmp_path):
    path = write_config(tmp_path, ["model_a", "model_b"])
    data = yaml.safe_load(path.read_text())
    data["deployments"][1]["alerts"] = {"cooldown_minutes": 60, "colour": "red"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        build_alerting(load_config(path))
    assert "deployments[1].alerts" in str(caught.value)  # since load_config validates alerts
    assert "unknown alert settings" in str(caught.value)
    assert "colour" in str(caught.value)


@pytest.mark.postgres
def test_restart_cooldown_and_rewrite_on_postgres(tmp_path, dagster_instance, postgres_schema_url):
    harness = Harness(tmp_path, dagster_instance, url=postgres_schema_url)
    harness.write(0, {"age": "significant", "income": "no_drift"})
    first = harness.tick(None)
    assert harness.tick(None).skip_reason is not None  # lost cursor: nothing judged twice
    harness.write(0, {"age": "significant", "income": "no_drift"})  # rewritten: new ids
    rewritten = harness.tick(first.cursor)
    assert (rewritten.cursor, rewritten.run_requests) == ("commit_seq:2", [])
    harness.write(1, {"age": "significant", "income": "no_drift"})
    harness.write(2, {"age": "no_drift", "income": "no_drift"})
    harness.tick(rewritten.cursor)
    assert drift_alerts(harness.outbox()) == [
        (key(0, "age", "critical"), "drift", "critical", "C0CRITIC1"),
        (key(2, "age", "resolved"), "resolved", "info", "C0MODELS1"),
    ]


def test_rolled_up_windows_are_not_judged(harness):
    harness.write(0, {"age": "significant"})
    harness.write(0, {"age": "significant", "income": "significant"}, granularity="day")
    first = harness.tick(None)
    assert first.cursor == "commit_seq:1"  # the hour; the day window (2) is never read
    assert [r["column_name"] for r in harness.outbox() if r["kind"] == "drift"] == ["age"]
    harness.write(1, {"age": "significant"}, granularity="week")
    only_rolled_up = harness.tick(first.cursor)
    assert only_rolled_up.skip_reason is not None and not only_rolled_up.run_requests
    harness.write(1, {"age": "no_drift"})
    assert harness.tick(first.cursor).cursor == "commit_seq:4"


def test_cursor_of_the_previous_release_judges_only_what_it_had_not(tmp_path, dagster_instance):
    url = f"sqlite:///{tmp_path / 'monitoring.db'}"
    load_previous_release(url)  # hourly windows at ids 1-2, 3-4, 6-7; a day window at id 5
    harness = Harness(tmp_path, dagster_instance, t0=LEGACY_T0, url=url)
    after_two_hours = harness.tick("4")  # the old sensor had judged hours 0 and 1
    assert after_two_hours.cursor == "commit_seq:4"
    metrics = [r["window_start"] for r in harness.outbox() if r["kind"] == outbox.METRICS]
    assert metrics == [LEGACY_T0 + 2 * HOUR]
    assert harness.tick("7").skip_reason.skip_message == (
        "no new hourly drift windows after commit_seq 4"
    )
    assert harness.tick("7").cursor == "commit_seq:4"  # converted once, then kept
    harness.write(0, {"age": "significant"})  # a rewrite after the upgrade is judged again
    again = harness.tick(after_two_hours.cursor)
    assert again.cursor == "commit_seq:5" and again.run_requests
