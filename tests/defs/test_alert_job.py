"""alert_delivery_job executed in process against the local Slack server and moto: delivery,
a Slack outage over three runs, no token, the run-failure sensor, secrets, and the CLI."""

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
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.run_failure import SENSOR_NAME as RUN_FAILURE_SENSOR
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.engine import get_engine
from tests.defs.conftest import START
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
    }.items():
        monkeypatch.setenv(name, value)
    return namespace


@pytest.fixture
def harness(tmp_path, dagster_instance) -> Harness:
    return Harness(tmp_path, dagster_instance, t0=T0)


def alert_defs(harness: Harness, **sinks: dg.ConfigurableResource) -> dg.Definitions:
    """The alerting part of the code location, on the harness's store and monitors.yaml."""
    jobs, sensors, resources = build_alerting(load_config(harness.config_path), [])
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


def delivered_keys(fake_slack) -> Counter:
    return Counter(
        key for m in fake_slack.messages for key in m["metadata"]["event_payload"]["dedup_keys"]
    )


def drift_two_hours(harness: Harness) -> None:
    harness.write(0, {"age": "significant", "income": "moderate", "region": "no_drift"})
    harness.write(1, {"age": "significant", "income": "significant", "region": "no_drift"})


def test_resources_follow_the_environment(monkeypatch, live_env):
    live = alert_resources()
    assert isinstance(live["slack"], SlackResource)
    assert isinstance(live["cloudwatch"], CloudWatchResource)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.delenv("CLOUDWATCH_NAMESPACE")
    quiet = alert_resources()
    assert isinstance(quiet["slack"], RunLogAlertSink)
    assert isinstance(quiet["cloudwatch"], DisabledMetricSink)


def test_sensor_then_job_delivers_slack_messages_and_cloudwatch_metrics(
    harness, live_env, fake_slack, moto, dagster_instance
):
    drift_two_hours(harness)
    [request] = harness.tick(None).run_requests
    defs = alert_defs(harness)
    result = run_job(defs, dagster_instance)
    assert result.success
    assert output_metadata(result, "post_slack_alerts") == {
        "sent": 3,  # age critical (hour 0), income warning (0), income critical (1)
        "failed": 0,
        "held": 0,
        "slack_messages": 3,  # hour 0: one critical and one warning channel; hour 1: one
    }
    assert output_metadata(result, "put_cloudwatch_metrics") == {
        "sent": 2,
        "failed": 0,
        "held": 0,
        "cloudwatch_calls": 1,
    }
    assert request.run_key.startswith("outbox:")
    assert sorted((m["channel"], m["text"].split(",")[0]) for m in fake_slack.messages) == [
        ("C0CRITIC1", "Critical drift: model_a"),
        ("C0CRITIC1", "Critical drift: model_a"),
        ("C0MODELS1", "Warning drift: model_a"),
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
    assert len(fake_slack.messages) == 3


def test_slack_down_for_three_runs_then_up_delivers_each_alert_once(
    harness, live_env, fake_slack, slack_token, dagster_instance
):
    drift_two_hours(harness)
    harness.tick(None)
    quick_slack = SlackResource(
        token=dg.EnvVar("SLACK_BOT_TOKEN"), base_url=fake_slack.url, max_retries=1,
        backoff_seconds=0.01, timeout_seconds=1, default_channel="C0DEFAULT",
    )  # fmt: skip
    defs = alert_defs(harness, slack=quick_slack)
    fake_slack.down = True
    for run in range(1, 4):
        result = run_job(defs, dagster_instance)
        assert not result.success  # the outage is visible in the UI ...
        message, metadata = failure_metadata(result, "post_slack_alerts")
        assert metadata == {"sent": 0, "failed": 3, "held": 0, "slack_messages": 0}
        assert "3 slack deliveries failed and stay pending" in message
        assert "SlackApiError: internal_error (HTTP 500)" in message
        # ... while CloudWatch, an independent op, delivered on the first run.
        assert output_metadata(result, "put_cloudwatch_metrics")["sent"] == (2 if run == 1 else 0)
        slack_rows = [r for r in harness.outbox() if r["slack_status"] != "skipped"]
        assert {(r["slack_status"], r["slack_attempts"]) for r in slack_rows} == {("pending", run)}
    assert fake_slack.messages == []
    fake_slack.down = False
    assert run_job(defs, dagster_instance).success
    assert run_job(defs, dagster_instance).success
    rows = [r for r in harness.outbox() if r["slack_status"] != "skipped"]
    assert delivered_keys(fake_slack) == Counter({r["dedup_key"]: 1 for r in rows})
    assert {(r["slack_status"], r["slack_attempts"]) for r in rows} == {("sent", 4)}


def test_without_a_token_alerts_go_to_the_run_log_and_stay_pending(
    harness, monkeypatch, dagster_instance
):
    for name in ("SLACK_BOT_TOKEN", "CLOUDWATCH_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    drift_two_hours(harness)
    harness.tick(None)
    result = run_job(alert_defs(harness), dagster_instance)
    assert result.success
    assert output_metadata(result, "post_slack_alerts")["held"] == 3
    assert output_metadata(result, "put_cloudwatch_metrics")["held"] == 2
    run_log = [e.user_message for e in dagster_instance.all_logs(result.run_id)]
    notices = [m for m in run_log if "Slack is not configured" in m]
    assert notices == [
        "Slack is not configured (set SLACK_BOT_TOKEN): 3 alert(s) logged below and kept in "
        "the outbox"
    ]
    assert len([m for m in run_log if m.startswith("Critical drift: model_a")]) == 2
    assert {r["slack_status"] for r in harness.outbox() if r["kind"] != "metrics"} == {"pending"}


def test_run_failure_sensor_posts_the_failed_run_to_slack(
    tiny_deployment, live_env, fake_slack, dagster_instance
):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    failed = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance,
        partition_key=hour_key("tiny_model", START),  # no baseline yet: the run fails
        raise_on_error=False,
    )
    assert not failed.success
    sensor = defs.resolve_sensor_def(RUN_FAILURE_SENSOR)
    resources = {
        "store": StoreResource(database_url=tiny_deployment.database_url),
        "monitors": MonitorsResource(path=str(tiny_deployment.config_path)),
    }
    context = dg.build_run_status_sensor_context(
        sensor_name=RUN_FAILURE_SENSOR,
        dagster_event=failed.get_run_failure_event(),
        dagster_instance=dagster_instance,
        dagster_run=failed.dagster_run,
        resources=resources,
    ).for_run_failure()
    request = sensor(context)
    assert request.run_key == f"run_failure:{failed.run_id}"
    assert sensor(context).run_key == request.run_key  # re-evaluated: same key, one row
    engine = get_engine(tiny_deployment.database_url)
    [row] = outbox.list_recent(engine)
    assert (row["kind"], row["deployment_id"], row["severity"]) == (
        "run_failure",
        "tiny_model",
        "critical",
    )
    assert defs.resolve_job_def(ALERT_JOB).execute_in_process(instance=dagster_instance).success
    [message] = fake_slack.messages
    assert message["channel"] == "C0DEFAULT"
    assert message["text"].startswith("Run failed: hourly_monitoring_job (tiny_model): ")
    assert f"{UI_URL}/runs/{failed.run_id}" in str(message["blocks"])


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
                                "column", "metric", "value", "slack", "cloudwatch"]  # fmt: skip
    assert len(lines) == 3 and all("model_a" in line for line in lines[1:])
    with pytest.raises(SystemExit):
        main(["alerts", "--limit", "0"])
