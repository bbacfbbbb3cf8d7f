"""The production service end to end: the README's commands start dagster-daemon and
dagster-webserver on PostgreSQL; through the webserver's GraphQL API (the mutations the UI
uses) we start the schedule and both sensors and launch a backfill of 24 hours of two
deployments; then Dagster's run storage, the sensor ticks, the store's rows and the local
Slack server must show the work done once, per deployment, without errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.defs.run_coordinator import DEPLOYMENT_TAG
from tests.fakes.credentials import fake_slack_token
from tests.service.service_harness import (
    CHANNEL,
    DEPLOYMENTS,
    DRIFTING,
    HOURS,
    LOCATION,
    REPOSITORY,
    START,
    Service,
    running_service,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LOCATION_STATUS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
START_SCHEDULE = """
mutation($selector: ScheduleSelector!) { startSchedule(scheduleSelector: $selector) {
  __typename ... on ScheduleStateResult { scheduleState { status } } ... on Error { message } } }
"""
START_SENSOR = """
mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status } } ... on Error { message } } }
"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }
"""
BACKFILL_STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status numPartitions } ... on Error { message } } }
"""
SENSOR_TICKS = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status ticks(limit: 100) {
    status runIds error { message } } } } ... on Error { message } } }
"""
SCHEDULE_STATE = """
query($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) {
  __typename ... on Schedule { scheduleState { status ticks(limit: 20) {
    status error { message } } } } ... on Error { message } } }
"""
SCHEDULE = "hourly_monitoring_schedule"
SENSORS = ("drift_threshold_sensor", "monitoring_run_failure_sensor")
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def _key(deployment: str, hour_index: int) -> str:
    return f"{deployment}|{START + timedelta(hours=hour_index):%Y-%m-%d-%H:%M}"


def _loaded(service: Service) -> bool:
    entries = service.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
    entry = next(e for e in entries if e["name"] == LOCATION)
    if entry["locationOrLoadError"]["__typename"] == "PythonError":
        raise AssertionError(f"code location failed: {entry['locationOrLoadError']['message']}")
    return entry["loadStatus"] == "LOADED"


def _selector(kind: str, name: str) -> dict:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, f"{kind}Name": name}


@dataclass
class Outcome:
    service: Service
    backfill_id: str
    backfill: dict
    runs: list[dg.DagsterRun]
    sensor_ticks: dict[str, list[dict]]
    schedule: dict


def _launch_and_wait(service: Service) -> Outcome:
    wait_for("the code location", lambda: _loaded(service), 120)
    started = service.graphql(START_SCHEDULE, {"selector": _selector("schedule", SCHEDULE)})
    assert started["startSchedule"]["__typename"] == "ScheduleStateResult", started
    for sensor in SENSORS:
        answer = service.graphql(START_SENSOR, {"selector": _selector("sensor", sensor)})
        assert answer["startSensor"]["__typename"] == "Sensor", answer
    hourly = {"ranges": [{"start": _key(d, 0), "end": _key(d, HOURS - 1)} for d in DEPLOYMENTS]}
    params = {
        "partitionsByAssets": [
            {
                "assetKey": {"path": ["baseline_statistics"]},
                "partitions": {"range": {"start": DEPLOYMENTS[0], "end": DEPLOYMENTS[-1]}},
            },
            {"assetKey": {"path": ["hourly_aggregates"]}, "partitions": hourly},
            {"assetKey": {"path": ["drift_scores"]}, "partitions": hourly},
        ],
        "title": "service end-to-end",
    }
    launched = service.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished() -> dict | None:
        status = service.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return status if status.get("status") in FINISHED else None

    backfill = wait_for("the backfill", finished, 360, every=3)
    wait_for(
        f"a Slack message about {DRIFTING}",
        lambda: any(DRIFTING in (m["text"] or "") for m in service.slack.messages),
        240,
        every=3,
    )
    ticks = {}
    for sensor in SENSORS:
        answer = service.graphql(SENSOR_TICKS, {"selector": _selector("sensor", sensor)})
        ticks[sensor] = answer["sensorOrError"]["sensorState"]["ticks"]
    schedule = service.graphql(SCHEDULE_STATE, {"selector": _selector("schedule", SCHEDULE)})
    with dg.DagsterInstance.from_config(service.env["DAGSTER_HOME"]) as instance:
        alert_runs = wait_for(
            "the alert run to finish",
            lambda: [
                r
                for r in instance.get_runs(dg.RunsFilter(job_name="alert_delivery_job"))
                if r.is_finished
            ],
            60,
        )
        backfill_runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    runs = [*backfill_runs, *alert_runs]
    return Outcome(service, backfill_id, backfill, runs, ticks, schedule["scheduleOrError"])


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Outcome:
    tmp = tmp_path_factory.mktemp("service")
    token = fake_slack_token()
    with running_service(tmp, token) as service, pytest.MonkeyPatch.context() as patch:
        for name in ("DAGSTER_HOME", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"):
            patch.setenv(name, service.env[name])
        for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB"):
            patch.setenv(name, service.env[name])
        try:
            yield _launch_and_wait(service)
        except (AssertionError, TimeoutError) as error:
            tail = service.log_tail()
            raise AssertionError(f"{error}\n--- service log (tail) ---\n{tail}") from None


def _backfill_runs(outcome: Outcome) -> tuple[list[dg.DagsterRun], list[dg.DagsterRun]]:
    mine = [r for r in outcome.runs if r.tags.get("dagster/backfill") == outcome.backfill_id]
    ranged = [r for r in mine if "dagster/asset_partition_range_start" in r.tags]
    return ranged, [r for r in mine if r not in ranged]


def test_the_backfill_completes_with_one_run_per_deployment_range(outcome):
    assert outcome.backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, outcome.backfill
    ranged, single = _backfill_runs(outcome)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in ranged + single)
    ranges = sorted(
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in ranged
    )
    assert ranges == [(_key(d, 0), _key(d, HOURS - 1)) for d in DEPLOYMENTS]
    assert sorted(r.tags.get("dagster/partition") for r in single) == sorted(DEPLOYMENTS)


def test_every_backfill_run_is_tagged_with_its_deployment_for_the_concurrency_limit(outcome):
    ranged, single = _backfill_runs(outcome)
    for run in ranged:
        deployment = run.tags["dagster/asset_partition_range_start"].split("|")[0]
        assert run.tags[DEPLOYMENT_TAG] == deployment
    for run in single:
        assert run.tags[DEPLOYMENT_TAG] == run.tags["dagster/partition"]


def test_the_store_holds_every_hour_of_both_deployments_once(outcome):
    engine = create_engine(outcome.service.store_url)
    in_range = {"start": START, "end": START + timedelta(hours=HOURS)}
    with engine.connect() as conn:
        windows = dict(
            conn.execute(
                text(
                    "SELECT deployment_id, count(DISTINCT timestamp) FROM aggregates "
                    "WHERE NOT is_baseline AND timestamp >= :start AND timestamp < :end "
                    "GROUP BY deployment_id"
                ),
                in_range,
            ).all()
        )
        # The schedule may tick (at :15) while the test runs: its hour is the present one,
        # which has no logs, so it is stored as an empty (no_data) hour and nothing else.
        outside = conn.execute(
            text(
                "SELECT DISTINCT deployment_id, timestamp, row_count FROM aggregates "
                "WHERE NOT is_baseline AND (timestamp < :start OR timestamp >= :end)"
            ),
            in_range,
        ).all()
        duplicates = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM aggregates WHERE NOT is_baseline "
                "GROUP BY deployment_id, timestamp, column_name HAVING count(*) > 1) d"
            )
        ).scalar_one()
        scored = dict(
            conn.execute(
                text(
                    "SELECT deployment_id, count(DISTINCT window_start) FROM drift_scores "
                    "WHERE granularity = 'hour' AND window_start >= :start "
                    "AND window_start < :end GROUP BY deployment_id"
                ),
                in_range,
            ).all()
        )
    engine.dispose()
    assert windows == dict.fromkeys(DEPLOYMENTS, HOURS)
    assert [(d, t) for d, t, rows in outside if rows or t < START] == []
    assert duplicates == 0
    assert scored == dict.fromkeys(DEPLOYMENTS, HOURS)


def test_sensors_tick_without_errors_and_the_drift_sensor_launches_the_alert_job(outcome):
    for sensor, ticks in outcome.sensor_ticks.items():
        assert ticks, f"{sensor} never ticked"
        errors = [t["error"]["message"] for t in ticks if t["status"] == "FAILURE"]
        assert errors == [], f"{sensor}: {errors}"
    launched = [i for t in outcome.sensor_ticks["drift_threshold_sensor"] for i in t["runIds"]]
    alert_runs = [r for r in outcome.runs if r.job_name == "alert_delivery_job"]
    assert {r.run_id for r in alert_runs} <= set(launched)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in alert_runs)


def test_the_schedule_runs_without_tick_errors(outcome):
    state = outcome.schedule["scheduleState"]
    assert state["status"] == "RUNNING"
    assert [t for t in state["ticks"] if t["status"] == "FAILURE"] == []


def test_an_alert_for_the_drifting_deployment_reaches_slack_and_none_for_the_stable_one(outcome):
    messages = outcome.service.slack.messages
    assert all(m["channel"] == CHANNEL for m in messages)
    assert any(DRIFTING in (m["text"] or "") for m in messages)
    stable = [d for d in DEPLOYMENTS if d != DRIFTING]
    about_stable = [m for m in messages if any(d in (m["text"] or "") for d in stable)]
    # a schedule tick (at :15) during the test runs the present hour, which has no log file:
    # its no_data alert is right; any other message about the stable deployment is not
    backfilled = {f"{START + timedelta(hours=h):%Y-%m-%d %H:%M}" for h in range(HOURS)}
    assert not [
        m
        for m in about_stable
        if not (m["text"] or "").startswith("No data")
        or any(hour in m["text"] for hour in backfilled)
    ]
