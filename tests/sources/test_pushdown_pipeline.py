"""The pipeline profiles a PostgreSQL deployment's hours in the database when the run does not
validate raw rows and has no multivariate model or segments, and the stored aggregates and row
counts (repeated request ids, unstamped rows) equal those of the row-reading path; with the
great-expectations checks, segments or a multivariate model, rows are read (they need them)
and the hour says so."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.defs.checks import rows_check_outcome
from monitoring_pipelines.defs.metadata import window_metadata
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
UNSTAMPED = 6


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    amount = rng.lognormal(3, 0.5, n)
    return pd.DataFrame(
        {
            "amount": amount,
            "score": amount / 20 + rng.normal(0, 0.1, n),  # with amount: a PCA has a component
            "segment": rng.choice(["retail", "sme", "corporate", "new"], n),
            "rid": [f"r{i}" for i in range(n)],
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
        frame["rid"] = [f"h{h}_{i}" for i in range(len(frame))]
        frame.loc[frame.index[: 3 * h], "rid"] = "retried"  # hour h repeats an id 3h - 1 times
        logs.append(frame)
    logs.append(_frame(rng, UNSTAMPED).assign(scored_at=pd.NaT))  # in no hour's range
    with postgres_schema("mp_pushdown_pipe") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE logs (scored_at timestamptz, amount float8, score float8, "
                    "segment text, rid text)"
                )
            )
            conn.execute(
                text("INSERT INTO logs VALUES (:scored_at, :amount, :score, :segment, :rid)"),
                pd.concat(logs)
                .astype(object)
                .where(pd.concat(logs).notna(), None)
                .to_dict("records"),
            )
        engine.dispose()
        monkeypatch.setenv("LOGS_DATABASE_URL", url)

        def config(pushdown: bool, multivariate: bool = False):
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
                            "drift": {"multivariate": {"enabled": multivariate}},
                            "columns": [
                                {"name": "scored_at", "role": "timestamp"},
                                {"name": "amount", "type": "numerical"},
                                {"name": "score", "type": "numerical"},
                                {"name": "segment", "type": "categorical"},
                                {"name": "rid", "role": "request_id"},
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
    assert [s.profiled_in for s in pushed] == ["database"] * HOURS
    assert [s.profiled_in for s in read] == ["rows"] * HOURS
    metadata = window_metadata(pushed[0])
    assert metadata["profiled_in"].value == "database" and "pushdown_skipped" not in metadata
    assert metadata["rows_null_timestamp"].value == UNSTAMPED
    assert stored_pushed.keys() == stored_read.keys()
    for hour, profile in stored_read.items():
        assert_same_profile(stored_pushed[hour], profile)
    for a, b in zip(pushed, read, strict=True):
        assert_same_profile(a.profile, b.profile)
        assert a.accounted == b.accounted


def test_repeated_ids_and_unstamped_rows_are_counted_once_and_fail_the_check(sql_deployment):
    config, tmp = sql_deployment
    for pushdown in (True, False):
        summaries, _ = _run(config(pushdown), tmp / f"counts_{pushdown}.db")
        # hour h repeats "retried" 3h - 1 times (none in hour 0); the unstamped rows are
        # counted by the first hour written, once
        assert [s.accounted for s in summaries] == [
            {
                "rows_out_of_window": 0,
                "rows_null_timestamp": UNSTAMPED if h == 0 else 0,
                "duplicate_request_ids": max(3 * h - 1, 0),
                "rows_misfiled": 0,
                "rows_from_neighbours": 0,
            }
            for h in range(HOURS)
        ], pushdown
        [first] = rows_check_outcome(summaries[0])
        assert not first.passed and first.description == f"{UNSTAMPED} rows_null_timestamp"
        [last] = rows_check_outcome(summaries[-1])
        assert not last.passed and last.description == "5 duplicate_request_ids"
        # a re-run of the hours counts the unstamped rows in place, not again
        again, _ = _run(config(pushdown), tmp / f"counts_{pushdown}.db")
        assert [s.accounted["rows_null_timestamp"] for s in again] == [UNSTAMPED, 0, 0]


def test_a_multivariate_model_reads_the_rows_and_says_why(sql_deployment):
    """Push-down cannot give each row's reconstruction error: the hour is read, so its
    ``__multivariate__`` profile exists and equals the row path's, and the summary (the
    hour's metadata) names the reason."""
    config, tmp = sql_deployment
    summaries, stored = _run(config(True, multivariate=True), tmp / "multivariate.db")
    read, stored_read = _run(config(False, multivariate=True), tmp / "multivariate_read.db")
    for summary in summaries:
        assert summary.profiled_in == "rows"
        assert summary.pushdown_skipped == (
            "multivariate drift needs each row's reconstruction error"
        )
        assert summary.profile.multivariate.count == 400
    for hour, profile in stored_read.items():
        assert profile.multivariate is not None
        assert_same_profile(stored[hour], profile)
    assert all(s.pushdown_skipped is None for s in read)  # push-down off: nothing skipped
    metadata = window_metadata(summaries[0])
    assert metadata["profiled_in"].value == "rows"
    assert metadata["pushdown_skipped"].value == summaries[0].pushdown_skipped


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
    assert checked[0].pushdown_skipped == "the great-expectations checks validate the raw rows"
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
