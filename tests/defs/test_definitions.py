"""The code location as `dagster dev` loads it: validates, and holds exactly the committed
assets, checks, jobs, schedules and sensors; the schedule asks for the last complete hour."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import yaml

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.defs.build import build_definitions

REPO = Path(__file__).resolve().parents[2]

EXPECTED = {
    "assets": [
        "baseline_statistics",
        "drift_report",
        "drift_scores",
        "hourly_aggregates",
        "model_performance",
    ],
    "checks": [
        "drift_scores:drift",
        "hourly_aggregates:data_freshness",
        "hourly_aggregates:raw_data_quality",
        "hourly_aggregates:rows_accounted",
    ],
    "jobs": [
        "alert_delivery_job",
        "baseline_job",
        "hourly_monitoring_job",
        "late_labels_job",
        "retraining_job",
    ],
    "schedules": ["hourly_monitoring_schedule"],
    "sensors": [
        "drift_threshold_sensor",
        "late_labels_sensor",
        "model_performance_sensor",
        "monitoring_run_failure_sensor",
        "retraining_sensor",
    ],
}


def _load() -> dg.Definitions:
    from monitoring_pipelines.definitions import defs

    return defs


def test_dagster_definitions_validate_passes(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env.pop("MONITORS_CONFIG", None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_the_code_location_holds_the_committed_definitions():
    defs = _load()
    graph = defs.resolve_asset_graph()
    found = {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(
            f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys
        ),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules),
        "sensors": sorted(s.name for s in defs.sensors),
    }
    assert found == EXPECTED


def test_the_schedule_requests_the_last_complete_hour_for_every_deployment(tmp_path):
    """The committed deployments with a fixed start: without one, start follows the data
    (the first log hour, else the load's hour), which a clean clone does not have yet."""
    data = yaml.safe_load((REPO / "monitors.yaml").read_text())
    for deployment in data["deployments"]:
        deployment["start"] = "2026-11-01T00:00:00Z"
    defs = build_definitions(parse_config(data, base=REPO))
    schedule = defs.resolve_schedule_def("hourly_monitoring_schedule")
    assert schedule.cron_schedule == "15 * * * *"
    # the partitions start at the deployment's start (the demo data's first hour, or the
    # hour the file was loaded when there is none yet), so tick the hour after it
    hours = defs.resolve_job_def("hourly_monitoring_job").partitions_def
    start = hours.get_partitions_def_for_dimension("hour").start
    tick = start + timedelta(hours=1, minutes=15)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    keys = sorted(r.partition_key for r in requests)
    assert keys == [f"credit_risk|{start:%Y-%m-%d-%H:%M}"]
