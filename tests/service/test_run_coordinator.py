"""The production run queue: every run is tagged with its deployment on submission, and the
limits of deploy/dagster.postgres.yaml, applied by Dagster's own counter, hold a deployment at
two runs in progress without holding up the others."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.test_utils import create_run_for_test
from dagster._utils.tags import TagConcurrencyLimitsCounter

from monitoring_pipelines.defs.run_coordinator import (
    DEPLOYMENT_TAG,
    DeploymentRunCoordinator,
    deployment_of,
)

PRODUCTION_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.postgres.yaml"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """A test instance with the production queue settings (storage stays temporary)."""
    settings = yaml.safe_load(PRODUCTION_YAML.read_text())
    overrides = {k: settings[k] for k in ("run_coordinator", "concurrency", "run_retries")}
    with dg.instance_for_test(
        overrides=overrides, temp_dir=str(tmp_path_factory.mktemp("queue_home"))
    ) as instance:
        yield instance


def _origin(job_name: str) -> RemoteJobOrigin:
    """Where a queued run's job lives (required to enqueue; never loaded here)."""
    location = RegisteredCodeLocationOrigin("monitoring_pipelines")
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)


def _range(deployment: str, first: str = "2026-11-01-00:00", last: str = "2026-11-01-23:00"):
    return {RANGE_START: f"{deployment}|{first}", RANGE_END: f"{deployment}|{last}"}


@pytest.mark.parametrize(
    ("tags", "deployment"),
    [
        ({"dagster/partition/deployment": "credit_risk", "dagster/partition": "x"}, "credit_risk"),
        ({"dagster/partition": "credit_risk|2026-11-01-03:00"}, "credit_risk"),
        ({"dagster/partition": "credit_risk"}, "credit_risk"),  # a baseline run
        (_range("credit_risk"), "credit_risk"),
        ({RANGE_START: "fraud|2026-11-01-00:00", RANGE_END: "credit_risk|2026-11-01-00:00"}, None),
        ({RANGE_START: "credit_risk", RANGE_END: "fraud"}, None),  # baselines of two
        ({"dagster/partition": "Not-An-Id"}, None),
        ({"dagster/partition": "credit_risk|yesterday"}, None),
        ({}, None),  # the alert job
    ],
)
def test_the_deployment_of_a_run_comes_from_its_partition_tags(tags, deployment):
    assert deployment_of(tags) == deployment


def test_submitted_runs_are_queued_with_their_deployment_tag(instance):
    assert isinstance(instance.run_coordinator, DeploymentRunCoordinator)
    ranged = create_run_for_test(
        instance, job_name="__ASSET_JOB", tags=_range("fraud"), remote_job_origin=_origin("a")
    )
    untagged = create_run_for_test(
        instance, job_name="alert_delivery_job", tags={}, remote_job_origin=_origin("b")
    )
    for run in (ranged, untagged):
        instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))
    queued = instance.get_run_by_id(ranged.run_id)
    assert queued.status == dg.DagsterRunStatus.QUEUED
    assert queued.tags[DEPLOYMENT_TAG] == "fraud"
    assert queued.tags[RANGE_START] == "fraud|2026-11-01-00:00"
    other = instance.get_run_by_id(untagged.run_id)
    assert other.status == dg.DagsterRunStatus.QUEUED
    assert DEPLOYMENT_TAG not in other.tags


def test_the_limits_hold_a_deployment_at_two_runs_and_let_others_through(instance):
    config = instance.get_concurrency_config().run_queue_config
    assert config.max_concurrent_runs == 6
    in_progress = [
        create_run_for_test(instance, tags={DEPLOYMENT_TAG: "credit_risk"}) for _ in range(2)
    ]
    counter = TagConcurrencyLimitsCounter(config.tag_concurrency_limits, in_progress)
    assert counter.is_blocked(create_run_for_test(instance, tags={DEPLOYMENT_TAG: "credit_risk"}))
    assert not counter.is_blocked(create_run_for_test(instance, tags={DEPLOYMENT_TAG: "fraud"}))
    assert not counter.is_blocked(create_run_for_test(instance, tags={}))
