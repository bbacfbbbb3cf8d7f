"""The pipeline profiles a PostgreSQL deployment's hours in the database when the run does not
validate raw rows, and the stored aggregates equal those of the row-reading path; with the
great-expectations checks on, rows are read (the checks need them)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.pipeline.aggregation import (
    PROFILE_THREADS_ENV,
    aggregate_windows,
    compute_baseline,
    log_source,
    profile_threads,
)
from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import postgres_schema
from tests.sources.test_sql_pushdown import assert_same_profile

pytestmark = pytest.mark.postgres

START = datetime(2026, 11, 3, tzinfo=UTC)
HOURS = 3


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n),
            "segment": rng.choice(["retail", "sme", "corporate", "new"], n),
        }
    )


@pytest.fixture
def sql_deployment(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    _frame(rng, 2000).to_parquet(tmp_path / "reference.parquet")
    logs = []
    for h in range(HOURS):
        frame = _frame(rng, 400)
        frame.loc[::9, "amount"] = np.nan
        frame["scored_at"] = (
            START + timedelta(hours=h) + pd.to_timedelta(rng.uniform(0, 3599, len(frame)), "s")
        )
        logs.append(frame)
    with postgres_schema("mp_pushdown_pipe") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text("CREATE TABLE logs (scored_at timestamptz, amount float8, segment text)")
            )
            conn.execute(
                text("INSERT INTO logs VALUES (:scored_at, :amount, :segment)"),
                pd.concat(logs)
                .astype(object)
                .where(pd.concat(logs).notna(), None)
                .to_dict("records"),
            )
        engine.dispose()
        monkeypatch.setenv("LOGS_DATABASE_URL", url)

        def config(pushdown: bool):
            return parse_config(
                {
                    "deployments": [
                        {
                            "id": "sql_model",
                            "reference": {"path": str(tmp_path / "reference.parquet")},
                            "logs": {
                                "type": "sql",
                                "url_env": "LOGS_DATABASE_URL",
                                "table": "logs",
                                "timestamp_column": "scored_at",
                                "pushdown": pushdown,
                            },
                            "start": START.isoformat(),
                            "columns": [
                                {"name": "scored_at", "role": "timestamp"},
                                {"name": "amount", "type": "numerical"},
                                {"name": "segment", "type": "categorical"},
                            ],
                        }
                    ]
                }
            )

        yield config, tmp_path


def _run(config, store_path, validate=False):
    engine = get_engine(f"sqlite:///{store_path}")
    deployment = config.deployment("sql_model")
    compute_baseline(config, deployment, engine)
    hours = [("sql_model", START + timedelta(hours=h)) for h in range(HOURS)]
    summaries = aggregate_windows(config, engine, hours, validate=validate)
    baseline = read_baseline(engine, "sql_model")
    return summaries, read_windows(
        engine, "sql_model", START, START + HOURS * timedelta(hours=1), baseline
    )


def test_stored_hours_are_the_same_with_and_without_pushdown(sql_deployment):
    config, tmp = sql_deployment
    pushed, stored_pushed = _run(config(True), tmp / "pushed.db")
    read, stored_read = _run(config(False), tmp / "read.db")
    assert [s.rows for s in pushed] == [s.rows for s in read] == [400] * HOURS
    assert stored_pushed.keys() == stored_read.keys()
    for hour, profile in stored_read.items():
        assert_same_profile(stored_pushed[hour], profile)
    for a, b in zip(pushed, read, strict=True):
        assert_same_profile(a.profile, b.profile)


def test_the_source_of_a_sql_deployment_pushes_down_unless_told_not_to(sql_deployment):
    config, _ = sql_deployment
    deployment = config(True).deployment("sql_model")
    reference = pd.read_parquet(deployment.reference.path)
    baseline = fit_baseline(reference, deployment.monitored)
    on = log_source(config(True), deployment)
    off = log_source(config(False), config(False).deployment("sql_model"))
    assert on.profile_window(START, START + timedelta(hours=1), baseline).row_count == 400
    assert off.profile_window(START, START + timedelta(hours=1), baseline) is None


def test_with_the_checks_on_the_rows_are_read_and_validated(sql_deployment):
    config, tmp = sql_deployment
    checked, stored_checked = _run(config(True), tmp / "checked.db", validate=True)
    _, stored_read = _run(config(False), tmp / "read.db")
    assert all(summary.quality for summary in checked)  # great-expectations saw the rows
    for hour, profile in stored_read.items():
        assert_same_profile(stored_checked[hour], profile)


def test_profile_threads_setting(monkeypatch):
    monkeypatch.delenv(PROFILE_THREADS_ENV, raising=False)
    assert profile_threads() == (os.cpu_count() or 1)
    monkeypatch.setenv(PROFILE_THREADS_ENV, "1")
    assert profile_threads() == 1
    monkeypatch.setenv(PROFILE_THREADS_ENV, "two")
    with pytest.raises(ValueError, match="MONITORING_PROFILE_THREADS='two': expected a whole"):
        profile_threads()
