"""Rows without a timestamp in a SQL log table belong to no hour's range: ``write_profile``
attributes them to one hour (``rows_null_timestamp``), the part of the table's total that no
other stored hour of the deployment counts. Each such row is counted exactly once, however
hours are run, re-run or run at the same time, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.store.aggregates import write_profile
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates
from tests.store.partition_writers import T0, WAIT, H, Writer, paused_before


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return get_engine(url)


PROFILE = fit_baseline(
    pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) % 3}),
    {"x": "numerical", "y": "numerical"},
)


def _write(engine, deployment: str, hour: int, total: int) -> dict:
    start = T0 + hour * H
    return write_profile(
        engine,
        deployment,
        start,
        PROFILE,
        is_baseline=False,
        window_end=start + H,
        accounted={"rows_out_of_window": 0},
        unstamped_total=total,
    )


def _stored(engine, deployment: str) -> dict[int, set]:
    """Hour index → the rows_null_timestamp values on its rows (one value per hour)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(aggregates.c.timestamp, aggregates.c.rows_null_timestamp).where(
                aggregates.c.deployment_id == deployment
            )
        ).all()
    hours: dict[int, set] = {}
    for timestamp, n in rows:
        stamp = pd.Timestamp(timestamp)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        hours.setdefault(int((stamp - pd.Timestamp(T0)) / H), set()).add(n)
    return hours


def test_each_unstamped_row_is_counted_by_one_hour_across_runs_and_reruns(engine):
    deployment = f"u_{uuid.uuid4().hex[:10]}"
    assert _write(engine, deployment, 5, 7)["rows_null_timestamp"] == 7  # the first hour written
    assert _write(engine, deployment, 6, 7)["rows_null_timestamp"] == 0  # already counted
    assert _write(engine, deployment, 2, 7)["rows_null_timestamp"] == 0  # a backfill: too
    assert _write(engine, deployment, 5, 7)["rows_null_timestamp"] == 7  # a re-run: in place
    assert _stored(engine, deployment) == {5: {7}, 6: {0}, 2: {0}}
    # three more arrive: the next hour written counts those three only
    assert _write(engine, deployment, 7, 10)["rows_null_timestamp"] == 3
    assert _write(engine, deployment, 6, 10)["rows_null_timestamp"] == 0
    assert _write(engine, deployment, 7, 10)["rows_null_timestamp"] == 3
    stored = _stored(engine, deployment)
    assert stored == {5: {7}, 6: {0}, 2: {0}, 7: {3}}
    assert sum(n for values in stored.values() for n in values) == 10  # = the table's total
    # rows deleted from the table: never a negative count; they stay where they were counted
    assert _write(engine, deployment, 8, 4)["rows_null_timestamp"] == 0
    # another deployment's hours do not claim this one's rows
    other = f"u_{uuid.uuid4().hex[:10]}"
    assert _write(engine, other, 5, 2)["rows_null_timestamp"] == 2


def test_without_a_total_the_count_is_what_the_source_said(engine):
    deployment = f"u_{uuid.uuid4().hex[:10]}"
    stored = write_profile(
        engine,
        deployment,
        T0,
        PROFILE,
        is_baseline=False,
        window_end=T0 + H,
        accounted={"rows_null_timestamp": 4},
    )
    assert stored["rows_null_timestamp"] == 4 and stored["duplicate_request_ids"] is None
    assert _stored(engine, deployment) == {0: {4}}


def test_two_hours_written_at_once_count_the_rows_once(engine):
    """Writer a (hour 0) has claimed the 5 rows and is paused before its INSERT; writer b
    (hour 1) must wait for it, then find them claimed. Without the deployment's lock b would
    not see a's uncommitted claim and count the same 5 rows again."""
    deployment = f"u_{uuid.uuid4().hex[:10]}"
    a_claimed, resume_a = threading.Event(), threading.Event()
    a = Writer("unstamped_a", lambda: _write(engine, deployment, 0, 5))
    b = Writer("unstamped_b", lambda: _write(engine, deployment, 1, 5))
    insert = "INSERT INTO aggregates "
    with paused_before(engine, insert, a.name, a_claimed.set, lambda: resume_a.wait(WAIT)):
        a.start()
        assert a_claimed.wait(WAIT)
        b.start()
        assert not b.done.wait(1.0), "b wrote while a held the deployment's unstamped rows"
        resume_a.set()
        a.join(WAIT)
        b.join(WAIT)
    assert (a.error, b.error) == (None, None)
    assert _stored(engine, deployment) == {0: {5}, 1: {0}}
    with engine.connect() as conn:
        per_hour = conn.execute(
            select(func.count(func.distinct(aggregates.c.timestamp))).where(
                aggregates.c.deployment_id == deployment
            )
        ).scalar_one()
    assert per_hour == 2
