"""A range run whose hours are split across worker processes (``defaults.backfill.processes``),
executed by `dagster job execute` on Dagster's multiprocess executor with the instance and the
store on the real PostgreSQL: every hour is stored exactly once, with the rows the
single-process in-process run writes to another schema."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta

import dagster as dg
import pytest
import yaml
from sqlalchemy import create_engine, text

from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.pipeline.aggregation import compute_baseline
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import postgres_database, postgres_schema
from tests.service.service_harness import REPO, ROWS_PER_HOUR, START, write_deployments
from tests.service.test_executors import _bin, _rows, assert_same_rows

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DEPLOYMENT = "svc_alpha"
HOURS = 6
PROCESSES = 2
RANGE = {
    "dagster/asset_partition_range_start": f"{DEPLOYMENT}|{START:%Y-%m-%d-%H:%M}",
    "dagster/asset_partition_range_end": (
        f"{DEPLOYMENT}|{START + timedelta(hours=HOURS - 1):%Y-%m-%d-%H:%M}"
    ),
}


def _with_processes(path, processes: int):
    """The same monitors.yaml with ``defaults.backfill.processes`` set."""
    config = yaml.safe_load(path.read_text())
    config["defaults"]["backfill"] = {"processes": processes}
    split = path.with_name(f"monitors-{processes}.yaml")
    split.write_text(yaml.safe_dump(config))
    return split


def test_hours_split_across_processes_are_each_stored_once(tmp_path):
    single = write_deployments(tmp_path / "data", (DEPLOYMENT,), HOURS)
    split = _with_processes(single, PROCESSES)
    config = load_config(single)
    with (
        postgres_schema("mp_split") as reference,
        postgres_schema("mp_split") as store,
        postgres_database("mp_split") as database,
    ):
        compute_baseline(config, config.deployment(DEPLOYMENT), get_engine(reference))
        with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
            patch.setenv("MONITORING_DATABASE_URL", reference)
            defs = build_definitions(config, str(single))
            job = defs.resolve_job_def("hourly_monitoring_job")
            assert job.execute_in_process(instance=instance, tags=RANGE).success
        compute_baseline(config, config.deployment(DEPLOYMENT), get_engine(store))
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CELERY_"))},
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_DB": database,
            "MONITORS_CONFIG": str(split),
            "MONITORING_DATABASE_URL": store,
            "MONITORING_EXECUTOR": "multiprocess",
        }
        command = [
            _bin("dagster"),
            *("job", "execute", "-m", "monitoring_pipelines.definitions"),
            *("-j", "hourly_monitoring_job", "--tags", json.dumps(RANGE)),
        ]
        log = tmp_path / "split.log"
        with log.open("wb") as out:
            done = subprocess.run(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300
            )
        output = log.read_text()
        assert done.returncode == 0, output[-3000:]
        assert "multiprocess" in output
        assert f"{HOURS} hours split across {PROCESSES} processes" in output

        engine = create_engine(store)
        with engine.connect() as conn:
            per_hour = conn.execute(
                text(
                    "SELECT timestamp, column_name, count(*), max(row_count) FROM aggregates "
                    "WHERE NOT is_baseline GROUP BY timestamp, column_name"
                )
            ).all()
        engine.dispose()
        assert len({row[0] for row in per_hour}) == HOURS
        assert all(row[2] == 1 and row[3] == ROWS_PER_HOUR for row in per_hour)
        assert_same_rows(_rows(store), _rows(reference))
