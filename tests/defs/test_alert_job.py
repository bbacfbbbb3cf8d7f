"""alert_delivery_job executed in process against the local Slack server and moto: delivery,
a Slack outage over three runs, no token, secrets, and the CLI."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime

import boto3
import dagster as dg
import pytest
from dagster._serdes import serialize_value

from monitoring_pipelines.alerts.listing import format_alerts
from monitoring_pipelines.alerts.report import OUTCOMES
from monitoring_pipelines.cli import main
from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.alert_resources import (
    CloudWatchResource,
    DisabledMetricSink,
    RunLogAlertSink,
    SlackResource,
    alert_resources,
)
from monitoring_pipelines.defs.alerting import ALERT_JOB, build_alerting
from monitoring_pipelines.store import alerts as outbox
from tests.defs.drift_harness import HOUR, Harness
from tests.fakes.slack_server import ECHO_AUTH

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * HOUR
UI_URL = "http://dagster.test:3000"


@pytest.fixture
def live_env(monkeypatch, fake_slack, slack_token, moto) -> str:
    """The environment a deployment sets: Slack on the local server, CloudWatch on moto."""
    namespace = f"Test/{uuid.uuid4().hex[:8]}"
    for name, value in {
        "SLACK_BOT_TOKEN": slack_token,
        "SLACK_BASE_URL": fake_slack.url,
        "SLACK_CHANNEL": "C0DEFAULT",
        "DAGSTER_UI_URL": UI_URL,
        "CLOUDWATCH_NAMESPACE": namespace,
        "AWS_ENDPOINT_URL_CLOUDWATCH": moto,
        "AWS_REGION": "us-east-1",
        "SLACK_LOOKUP_SETTLE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return namespace


@pytest.fixture
def harness(tmp_path, dagster_instance) -> Harness:
    return Harness(tmp_path, dagster_instance, t0=T0)


def alert_defs(harness: Harness, **sinks: dg.ConfigurableResource) -> dg.Definitions:
    """The alerting part of the code location, on the harness's store and monitors.yaml."""
    jobs, sensors, resources = build_alerting(load_config(harness.config_path))
    return dg.Definitions(
        jobs=jobs, sensors=sensors, resources=harness.resources() | resources | sinks
    )


def run_job(defs: dg.Definitions, instance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(ALERT_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )


def output_metadata(result: dg.ExecuteInProcessResult, op: str) -> dict:
    [event] = [e for e in result.events_for_node(op) if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def failure_metadata(result: dg.ExecuteInProcessResult, op: str) -> tuple[str, dict]:
    [event] = [e for e in result.events_for_node(op) if e.event_type_value == "STEP_FAILURE"]
    data = event.step_failure_data
    return data.error.message, {k: v.value for k, v in data.user_failure_data.metadata.items()}


def slack_counts(**counts: int) -> dict[str, int]:
    """The post_slack_alerts metadata: every outcome (zero unless given) and call counts."""
    base = dict.fromkeys(OUTCOMES, 0) | {"slack_messages": 0, "lookups": 0}
    return base | counts


def cloudwatch_counts(**counts: int) -> dict[str, int]:
    return dict.fromkeys(OUTCOMES, 0) | {"cloudwatch_calls": 0} | counts


def drift_two_hours(harness: Harness) -> None:
    harness.write(0, {"age": "significant", "income": "moderate", "region": "no_drift"})
    harness.write(1, {"age": "significant", "income": "significant", "region": "no_drift"})


def test_resources_follow_the_environment(monkeypatch, live_env):
    live = alert_resources()
    assert isinstance(live["slack"], SlackResource)
    assert isinstance(live["cloudwatch"], CloudWatchResource)
    assert live["slack"].configured and live["cloudwatch"].configured
    assert (live["slack"].unconfirmed_policy, live["slack"].settle_seconds) == ("wait", 0.0)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.delenv("CLOUDWATCH_NAMESPACE")
    quiet = alert_resources()
    assert isinstance(quiet["slack"], RunLogAlertSink)
    assert isinstance(quiet["cloudwatch"], DisabledMetricSink)
    assert not quiet["slack"].configured and not quiet["cloudwatch"].configured
    monkeypatch.setenv("SLACK_UNCONFIRMED_POLICY", "sometimes")
    with pytest.raises(ValueError, match="SLACK_UNCONFIRMED_POLICY='sometimes'"):
        alert_resources()


def test_sensor_then_job_delivers_slack_messages_and_cloudwatch_metrics(
    harness, live_env, fake_slack, moto, dagster_instance
):
    drift_two_hours(harness)
    [request] = harness.tick(None).run_requests
    defs = alert_defs(harness)
    result = run_job(defs, dagster_instance)
    assert result.success
    assert output_metadata(result, "post_slack_alerts") == slack_counts(
        sent=3,  # age critical and income warning (hour 0), income critical (hour 1)
        slack_messages=2,  # one message per window, to its worst severity's channel
    )
    assert output_metadata(result, "put_cloudwatch_metrics") == cloudwatch_counts(
        sent=2, cloudwatch_calls=1
    )
    assert request.run_key.startswith("outbox:")
    assert sorted((m["channel"], m["text"].split(" · ")[:2]) for m in fake_slack.messages) == [
        ("C0CRITIC1", ["Critical drift", "model_a"]),
        ("C0CRITIC1", ["Critical drift", "model_a"]),
    ]
    buttons = [b for m in fake_slack.messages for b in m["blocks"] if b["type"] == "actions"]
    assert all(b["elements"][0]["url"].startswith(f"{UI_URL}/assets/drift_scores") for b in buttons)

    reader = boto3.client("cloudwatch", endpoint_url=moto, region_name="us-east-1")
    metrics = reader.list_metrics(Namespace=live_env)["Metrics"]
    assert sorted({m["MetricName"] for m in metrics}) == [
        "drift_score",
        "drifted_columns",
        "max_drift_score",
        "rows_scored",
    ]
    data = reader.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "maxdrift",
                "MetricStat": {
                    "Metric": {
                        "Namespace": live_env,
                        "MetricName": "max_drift_score",
                        "Dimensions": [{"Name": "ModelName", "Value": "model_a"}],
                    },
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=T0 - HOUR,
        EndTime=T0 + 3 * HOUR,
    )["MetricDataResults"][0]
    assert sorted(zip(data["Timestamps"], data["Values"], strict=True)) == [
        (T0, 0.42),
        (T0 + HOUR, 0.42),
    ]
    again = run_job(defs, dagster_instance)
    assert output_metadata(again, "post_slack_alerts")["slack_messages"] == 0
    assert len(fake_slack.messages) == 2


def test_slack_down_for_three_runs_then_up_delivers_each_alert_once(
    harness, live_env, fake_slack, slack_token, dagster_instance
):
    drift_two_hours(harness)
    harness.tick(None)
    quick_slack = SlackResource(
        token=dg.EnvVar("SLACK_BOT_TOKEN"), base_url=fake_slack.url, max_retries=1,
        backoff_seconds=0.01, timeout_seconds=1, default_channel="C0DEFAULT", settle_seconds=0,
    )  # fmt: skip
    defs = alert_defs(harness, slack=quick_slack)
    fake_slack.down = True  # 500 for every call: a post may or may not have been stored
    for run in range(1, 4):
        result = run_job(defs, dagster_instance)
        assert not result.success  # the outage is visible in the UI ...
        message, metadata = failure_metadata(result, "post_slack_alerts")
        assert metadata == slack_counts(unconfirmed=3)
        assert "3 slack deliveries not confirmed (0 retrying, 3 unconfirmed, 0 failed)" in message
        assert "SlackApiError: internal_error (HTTP 500)" in message
        # ... while CloudWatch, an independent op, delivered on the first run.
        sent = output_metadata(result, "put_cloudwatch_metrics")["sent"]
        assert sent == (2 if run == 1 else 0)
        slack_rows = [r for r in harness.outbox() if r["slack_status"] != "skipped"]
        # each window was posted once; later runs only look it up, never post again
        assert {(r["slack_status"], r["slack_attempts"]) for r in slack_rows} == {
            ("unconfirmed", 1)
        }
    assert len(fake_slack.posts()) == 2 and fake_slack.messages == []
    fake_slack.down = False
    assert run_job(defs, dagster_instance).success
    assert run_job(defs, dagster_instance).success
    rows = [r for r in harness.outbox() if r["slack_status"] != "skipped"]
    assert Counter(fake_slack.posted_keys(rows)) == Counter({r["dedup_key"]: 1 for r in rows})
    assert {(r["slack_status"], r["slack_attempts"]) for r in rows} == {("sent", 2)}


def test_without_a_token_or_cloudwatch_nothing_is_queued_and_no_run_requested(
    tmp_path, monkeypatch, dagster_instance
):
    for name in ("SLACK_BOT_TOKEN", "CLOUDWATCH_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    harness = Harness(tmp_path, dagster_instance, t0=T0, sinks=alert_resources())
    drift_two_hours(harness)
    tick = harness.tick(None)
    assert not tick.run_requests
    assert tick.skip_reason.skip_message == "6 new drift scores, nothing new to deliver"
    rows = harness.outbox()
    assert {r["kind"] for r in rows} == {"drift"}  # no metrics rows without CloudWatch
    assert {(r["slack_status"], r["slack_last_error"]) for r in rows} == {
        ("skipped", "Slack is not configured: set SLACK_BOT_TOKEN, then "
                    "`monitoring-pipelines redeliver --status skipped` to send it")
    }  # fmt: skip
    result = run_job(alert_defs(harness), dagster_instance)
    assert result.success
    assert output_metadata(result, "post_slack_alerts") == slack_counts()


def test_the_token_never_reaches_logs_events_metadata_or_errors(
    harness, live_env, fake_slack, slack_token, dagster_instance, caplog, capfd
):
    drift_two_hours(harness)
    harness.tick(None)
    fake_slack.script.extend([ECHO_AUTH] * 3)  # Slack echoes the Authorization header back
    with caplog.at_level(logging.DEBUG):
        result = run_job(alert_defs(harness), dagster_instance)
    assert not result.success
    assert fake_slack.requests[0].headers["Authorization"] == f"Bearer {slack_token}"
    message, metadata = failure_metadata(result, "post_slack_alerts")
    assert "invalid_auth" in message
    run = dagster_instance.get_run_by_id(result.run_id)
    texts = {
        "captured logs": caplog.text,
        "stdout/stderr": "".join(capfd.readouterr()),
        "event log": serialize_value(dagster_instance.all_logs(result.run_id)),
        "run record": serialize_value(run),
        "failure": message + str(metadata),
        "outbox": str(harness.outbox()),
    }
    assert "invalid_auth" in texts["event log"]  # the events really hold the error
    for where, text in texts.items():
        assert slack_token not in text, f"token leaked into the {where}"


def test_cli_alerts_lists_the_outbox(harness, monkeypatch, capsys):
    monkeypatch.setenv("MONITORING_DATABASE_URL", harness.url)
    assert main(["alerts"]) == 0
    assert capsys.readouterr().out == "no alerts in the outbox\n"
    drift_two_hours(harness)
    harness.tick(None)
    assert main(["alerts", "--limit", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed == format_alerts(outbox.list_recent(harness.engine, limit=2)) + "\n"
    lines = printed.splitlines()
    assert lines[0].split() == ["id", "deployment", "window", "(UTC)", "kind", "severity",
                                "column", "metric", "reference", "segment", "value", "slack",
                                "cloudwatch", "note"]  # fmt: skip
    assert len(lines) == 3 and all(" drift " in line for line in lines[1:])  # alerts first
    with pytest.raises(SystemExit):
        main(["alerts", "--limit", "0"])
