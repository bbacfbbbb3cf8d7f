"""Every failed run of the code location alerts, with its cause and a link (issue 14, item 7).

The failing behaviour: runs launched from the UI's Materialize button, ``dagster asset
materialize`` or a backfill run as ``__ASSET_JOB`` (or with range tags) and failed without an
alert, and where an alert came it ended with Dagster's wrapper text. Here the sensor is
evaluated for real (its run-status cursor over the instance's event log, no daemon)."""

from __future__ import annotations

import dagster as dg
import pytest

from monitoring_pipelines.defs.alerting import ALERT_JOB
from monitoring_pipelines.defs.assets.baseline import build_baseline_statistics
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.run_failure import SENSOR_NAME, underlying_error
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.engine import get_engine
from tests.defs.conftest import START

UI_URL = "http://dagster.test:3000"
WRAPPER = "Error occurred while executing op"


@pytest.fixture
def slack_env(monkeypatch, fake_slack, slack_token) -> None:
    for name, value in {
        "SLACK_BOT_TOKEN": slack_token,
        "SLACK_BASE_URL": fake_slack.url,
        "SLACK_CHANNEL": "C0ONCALL1",
        "DAGSTER_UI_URL": UI_URL,
        "SLACK_LOOKUP_SETTLE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CLOUDWATCH_NAMESPACE", raising=False)


@pytest.fixture
def instance():
    with dg.instance_for_test() as fresh:  # its own event log: the sensor sees only our runs
        yield fresh


class LiveSensor:
    """The run-failure sensor ticking over an instance, its cursor kept between ticks."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance = defs, instance
        self.sensor = defs.resolve_sensor_def(SENSOR_NAME)
        self.cursor = None
        assert self.tick().skip_message.startswith(f"Initiating {SENSOR_NAME}")

    def tick(self):
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources=self.defs.resources,
            definitions=self.defs,
        )
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result


def failures(deployment) -> list[dict]:
    engine = get_engine(deployment.database_url)
    return [r for r in outbox.list_recent(engine, 100) if r["kind"] == "run_failure"]


def test_a_ui_materialization_failing_on_a_missing_reference_alerts_with_the_cause(
    tiny_deployment, slack_env, fake_slack, instance
):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    sensor = LiveSensor(defs, instance)
    reference = tiny_deployment.config.deployments[0].reference.path
    reference.unlink()
    asset_job = defs.resolve_implicit_global_asset_job_def()  # what the Materialize button runs
    failed = asset_job.execute_in_process(
        instance=instance,
        partition_key="tiny_model",
        asset_selection=[dg.AssetKey("baseline_statistics")],
        raise_on_error=False,
    )
    assert not failed.success and failed.dagster_run.job_name == "__ASSET_JOB"
    [request] = sensor.tick().run_requests
    assert request.run_key == f"run_failure:{failed.run_id}"
    [row] = failures(tiny_deployment)
    assert (row["deployment_id"], row["severity"], row["slack_status"]) == (
        "tiny_model",
        "critical",
        "pending",
    )
    cause = f"baseline_statistics: FileNotFoundError: reference data '{reference}' does not exist"
    assert row["reason"] == cause
    assert WRAPPER not in row["reason"]
    assert row["payload"] == {
        "run_id": failed.run_id,
        "job_name": "__ASSET_JOB",
        "partition": "tiny_model",
    }
    assert sensor.tick().run_requests == []  # judged once
    assert defs.resolve_job_def(ALERT_JOB).execute_in_process(instance=instance).success
    [message] = fake_slack.messages
    assert message["channel"] == "C0ONCALL1"
    assert message["text"].startswith("Run failed · __ASSET_JOB · tiny_model: baseline_statistics")
    assert f"```{cause}```" in str(message["blocks"])
    assert f"{UI_URL}/runs/{failed.run_id}" in str(message["blocks"])


def test_a_backfill_range_and_an_ad_hoc_materialize_alert_too(tiny_deployment, slack_env, instance):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    sensor = LiveSensor(defs, instance)
    first, last = hour_key("tiny_model", START), hour_key("tiny_model", START.replace(hour=2))
    backfill = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": str(first),
            "dagster/asset_partition_range_end": str(last),
        },
        raise_on_error=False,
    )  # fmt: skip  (no baseline yet: the range fails)
    tiny_deployment.config.deployments[0].reference.path.unlink()
    adhoc = dg.materialize(
        [build_baseline_statistics(tiny_deployment.config)],
        instance=instance,
        partition_key="tiny_model",
        resources=defs.resources,
        raise_on_error=False,
    )
    assert not backfill.success and not adhoc.success
    ticks = [sensor.tick() for _ in range(3)]  # Dagster hands a run-status sensor one run a tick
    assert [len(t.run_requests) for t in ticks] == [1, 1, 0]
    rows = {r["payload"]["run_id"]: r for r in failures(tiny_deployment)}
    assert rows[backfill.run_id]["payload"]["partition"] == f"{first} … {last}"
    assert rows[backfill.run_id]["deployment_id"] == "tiny_model"
    assert rows[adhoc.run_id]["payload"]["job_name"] == "__ephemeral_asset_job__"
    assert all(WRAPPER not in r["reason"] for r in rows.values())


def test_a_failed_alert_delivery_run_is_not_alerted_so_it_cannot_loop(
    tiny_deployment, slack_env, monkeypatch, instance
):
    monkeypatch.setenv("SLACK_BASE_URL", "http://127.0.0.1:9/api/")  # Slack unreachable
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    sensor = LiveSensor(defs, instance)
    engine = get_engine(tiny_deployment.database_url)
    outbox.enqueue(engine, [outbox.run_failure_entry("tiny_model", "r1", "baseline_job", "boom")])
    delivery = defs.resolve_job_def(ALERT_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not delivery.success
    tick = sensor.tick()
    assert tick.run_requests == []
    assert f"{ALERT_JOB} failed: its errors are on the outbox rows" in tick.skip_message
    [row] = failures(tiny_deployment)
    assert (row["payload"]["run_id"], row["slack_status"]) == ("r1", "pending")
    assert "Connection refused" in row["slack_last_error"]


def test_a_failure_without_slack_is_recorded_as_skipped_and_requests_no_run(
    tiny_deployment, monkeypatch, instance
):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    sensor = LiveSensor(defs, instance)
    tiny_deployment.config.deployments[0].reference.path.unlink()
    defs.resolve_job_def("baseline_job").execute_in_process(
        instance=instance, partition_key="tiny_model", raise_on_error=False
    )
    tick = sensor.tick()
    assert tick.run_requests == [] and "Slack is not configured" in tick.skip_message
    [row] = failures(tiny_deployment)
    assert row["slack_status"] == "skipped"


def test_the_cause_is_redacted_and_chained(tiny_deployment, slack_env, instance):
    @dg.op
    def connect():
        try:
            raise KeyError("pool")
        except KeyError as error:
            raise ConnectionError(
                "could not connect to postgresql://svc:p@ss/w:rd@db.internal:5432/logs"
            ) from error

    @dg.job
    def connect_job():
        connect()

    run = connect_job.execute_in_process(instance=instance, raise_on_error=False)
    [event] = [e for e in run.all_events if e.event_type_value == "STEP_FAILURE"]
    assert WRAPPER in event.step_failure_data.error.message  # what was shown before
    assert underlying_error(event.step_failure_data.error) == (
        "ConnectionError: could not connect to postgresql://svc:p@ss/w:rd@db.internal:5432/logs"
        " ← caused by KeyError: 'pool'"
    )
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    context = dg.build_run_status_sensor_context(
        sensor_name=SENSOR_NAME,
        dagster_event=run.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=run.dagster_run,
        resources={
            "store": StoreResource(database_url=tiny_deployment.database_url),
            "monitors": MonitorsResource(path=str(tiny_deployment.config_path)),
            "slack": defs.resources["slack"],
        },
    ).for_run_failure()
    defs.resolve_sensor_def(SENSOR_NAME)(context)
    [row] = failures(tiny_deployment)
    assert row["reason"] == (
        "connect: ConnectionError: could not connect to postgresql://***@db.internal:5432/logs"
        " ← caused by KeyError: 'pool'"
    )
    assert row["deployment_id"] == "all"
