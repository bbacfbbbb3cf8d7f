"""One range run of the hourly job, executed three ways, writes the same rows: in process (the
reference), by `dagster job execute` on Dagster's multiprocess executor, and with
MONITORING_EXECUTOR=celery on a dagster-celery worker the test starts (Redis on this machine,
a queue of its own), all on a PostgreSQL Dagster instance. Profiles merge exactly, so where a
step runs cannot change a number."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import redis
from sqlalchemy import create_engine, text

from monitoring_pipelines.config import ConfigError, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.executors import executor_from_env
from monitoring_pipelines.pipeline.aggregation import compute_baseline
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import postgres_database
from tests.service.service_harness import REPO, START, stop_session, wait_for, write_deployments

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DEPLOYMENT = "svc_alpha"
HOURS = 4
REDIS_URL = "redis://127.0.0.1:6379/9"
RANGE = {
    "dagster/asset_partition_range_start": f"{DEPLOYMENT}|{START:%Y-%m-%d-%H:%M}",
    "dagster/asset_partition_range_end": (
        f"{DEPLOYMENT}|{START + timedelta(hours=HOURS - 1):%Y-%m-%d-%H:%M}"
    ),
}
IGNORED = {"id", "computed_at"}
# The baselines were fitted separately (their timestamp is the write time); hours are compared.
QUERIES = {
    "aggregates": "SELECT * FROM aggregates WHERE NOT is_baseline",
    "drift_scores": "SELECT * FROM drift_scores",
}


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _rows(url: str) -> dict[str, list[tuple]]:
    """Every row the hourly run wrote, without ids and write times, in a stable order."""
    engine = create_engine(url)
    tables = {}
    with engine.connect() as conn:
        for table, query in QUERIES.items():
            result = conn.execute(text(query))
            keep = [i for i, c in enumerate(result.keys()) if c not in IGNORED]
            tables[table] = sorted(tuple(row[i] for i in keep) for row in result)
    engine.dispose()
    return tables


def assert_same_rows(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> None:
    """Equal rows; floats to 1e-12 (a categorical metric's sum may run in another order in
    another process: Python's string hashing is seeded per process)."""
    for table, rows in want.items():
        assert len(got[table]) == len(rows), table
        for a, b in zip(got[table], rows, strict=True):
            for x, y in zip(a, b, strict=True):
                if isinstance(y, float) and isinstance(x, float):
                    assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15), (table, a, b)
                else:
                    assert x == y, (table, a, b)


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.exceptions.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {error} (CI=true)")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {error}")


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """Data, a PostgreSQL Dagster home, and three stores that already hold the baseline."""
    _redis_or_skip()
    tmp = tmp_path_factory.mktemp("executors")
    config_path = write_deployments(tmp / "data", (DEPLOYMENT,), HOURS)
    config = load_config(config_path)
    stores = {}
    for name in ("in_process", "multiprocess", "celery"):
        stores[name] = f"sqlite:///{tmp / f'{name}.db'}"
        compute_baseline(config, config.deployment(DEPLOYMENT), get_engine(stores[name]))
    with postgres_database("mp_executors") as database:
        home = tmp / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
        queue = f"mp_service_{uuid.uuid4().hex[:10]}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CELERY_"))},
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_DB": database,
            "MONITORS_CONFIG": str(config_path),
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_RESULT_BACKEND": REDIS_URL,
            "MONITORING_CELERY_QUEUE": queue,
        }
        yield config_path, stores, env, tmp


def _execute(env: dict, store: str, executor: str, log: Path) -> subprocess.CompletedProcess:
    """`dagster job execute` of the range, as a run on the PostgreSQL instance."""
    command = [
        _bin("dagster"),
        "job",
        "execute",
        "-m",
        "monitoring_pipelines.definitions",
        "-j",
        "hourly_monitoring_job",
        "--tags",
        json.dumps(RANGE),
    ]
    run_env = env | {"MONITORING_DATABASE_URL": store, "MONITORING_EXECUTOR": executor}
    with log.open("wb") as out:
        return subprocess.run(
            command, cwd=REPO, env=run_env, stdout=out, stderr=subprocess.STDOUT, timeout=300
        )


@pytest.fixture(scope="module")
def reference_rows(setting):
    config_path, stores, _, _ = setting
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MONITORING_DATABASE_URL", stores["in_process"])
        patch.delenv(executor_env := "MONITORING_EXECUTOR", raising=False)
        assert executor_env not in os.environ
        with dg.instance_for_test() as instance:
            defs = build_definitions(load_config(config_path), str(config_path))
            job = defs.resolve_job_def("hourly_monitoring_job")
            assert job.execute_in_process(instance=instance, tags=RANGE).success
    rows = _rows(stores["in_process"])
    assert len({r[1] for r in rows["aggregates"]}) == HOURS
    return rows


def test_the_multiprocess_executor_writes_the_in_process_rows(setting, reference_rows):
    _, stores, env, tmp = setting
    done = _execute(env, stores["multiprocess"], "multiprocess", tmp / "multiprocess.log")
    assert done.returncode == 0, (tmp / "multiprocess.log").read_text()[-3000:]
    assert "multiprocess" in (tmp / "multiprocess.log").read_text()
    assert_same_rows(_rows(stores["multiprocess"]), reference_rows)


def test_a_celery_worker_executes_the_range_and_writes_the_in_process_rows(setting, reference_rows):
    _, stores, env, tmp = setting
    worker_log = tmp / "worker.log"
    worker_env = env | {"MONITORING_DATABASE_URL": stores["celery"]}
    command = [
        _bin("dagster-celery"),
        "worker",
        "start",
        "-A",
        "dagster_celery.app",
        "-y",
        str(REPO / "deploy" / "celery.yaml"),
        "-q",
        env["MONITORING_CELERY_QUEUE"],
    ]
    with worker_log.open("wb") as out:
        worker = subprocess.Popen(
            command,
            cwd=REPO,
            env=worker_env | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for("the celery worker", lambda: b"ready." in worker_log.read_bytes(), 90)
        done = _execute(env, stores["celery"], "celery", tmp / "celery.log")
        run_log = (tmp / "celery.log").read_text()
        assert done.returncode == 0, run_log[-3000:] + worker_log.read_text()[-3000:]
    finally:
        stop_session(worker, grace=20)
    assert "Submitting celery task" in run_log
    worker_text = worker_log.read_text()
    assert worker_text.count("succeeded in") >= 1  # the worker ran the step(s)
    assert_same_rows(_rows(stores["celery"]), reference_rows)


def test_the_executor_is_chosen_from_the_environment():
    assert executor_from_env({}) is None
    assert executor_from_env({"MONITORING_EXECUTOR": "multiprocess"}) is None
    celery = executor_from_env({"MONITORING_EXECUTOR": "celery", "MONITORING_CELERY_QUEUE": "q"})
    assert celery.name == "celery"
    with pytest.raises(ConfigError, match=r"MONITORING_EXECUTOR='k8s'.*multiprocess, celery"):
        executor_from_env({"MONITORING_EXECUTOR": "k8s"})
