"""SqlLogSource against SQLite and the real PostgreSQL: filters, streaming, safe errors."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
)
from sqlalchemy.exc import OperationalError

from monitoring_pipelines.sources.base import LogSourceError
from monitoring_pipelines.sources.sql import SqlLogSource

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 3, 1, 22, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROWS_PER_HOUR = 300


def postgres_url() -> str:
    """The test server's URL; skip when it is down, unless CI=true (then fail)."""
    try:
        with create_engine(POSTGRES_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 unreachable: {error.orig}")
    return POSTGRES_URL


def expected_rows() -> pd.DataFrame:
    """Three hours of two deployments; deployment 'b' rows are offset so they interleave."""
    rng = np.random.default_rng(7)
    n = 3 * ROWS_PER_HOUR
    frames = []
    for deployment in ("a", "b"):
        seconds = np.sort(rng.uniform(0, 3 * 3600, n))
        frames.append(
            pd.DataFrame(
                {
                    "scored_at": [T0 + timedelta(seconds=float(s)) for s in seconds],
                    "deployment": deployment,
                    "x": rng.normal(size=n),
                    "cat": rng.choice(["u", "v"], n),
                    "row": np.arange(n),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame.loc[frame.index % 17 == 0, "x"] = np.nan
    return frame


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def log_table(request, tmp_path):
    """A populated log table: (url, table name, rows written); dropped afterwards."""
    url = f"sqlite:///{tmp_path / 'logs.db'}" if request.param == "sqlite" else postgres_url()
    name = f"scoring_logs_{uuid.uuid4().hex[:10]}"
    table = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("scored_at", DateTime(timezone=True), nullable=False),
        Column("deployment", String(32), nullable=False),
        Column("x", Float),
        Column("cat", String(8)),
        Column("row", Integer),
    )
    engine = create_engine(url)
    table.create(engine)
    rows = expected_rows()
    with engine.begin() as conn:
        conn.execute(table.insert(), rows.replace({np.nan: None}).to_dict("records"))
    yield url, name, rows
    table.drop(engine)
    engine.dispose()


def window(rows: pd.DataFrame, deployment: str, start: datetime, end: datetime) -> pd.DataFrame:
    mask = (rows.deployment == deployment) & (rows.scored_at >= start) & (rows.scored_at < end)
    return rows[mask].sort_values("row", ignore_index=True)


def test_reads_one_deployment_hour_streamed_in_chunks(log_table):
    url, name, rows = log_table
    source = SqlLogSource(url, name, "scored_at", "deployment", "b", chunk_rows=64)
    chunks = list(source.read_window(T0 + HOUR, T0 + 2 * HOUR, ["scored_at", "x", "cat", "row"]))
    want = window(rows, "b", T0 + HOUR, T0 + 2 * HOUR)
    assert len(chunks) == -(-len(want) // 64) > 1
    assert max(len(c) for c in chunks) <= 64
    got = pd.concat(chunks).sort_values("row", ignore_index=True)
    assert list(got.columns) == ["scored_at", "x", "cat", "row"]
    assert list(got.row) == list(want.row)
    np.testing.assert_allclose(got.x, want.x, equal_nan=True)
    assert list(got.cat) == list(want.cat)
    assert str(got.scored_at.dt.tz) == "UTC"
    assert (got.scored_at >= T0 + HOUR).all() and (got.scored_at < T0 + 2 * HOUR).all()
    stamps = pd.to_datetime(want.scored_at, utc=True)
    assert (got.scored_at.dt.floor("ms") == stamps.dt.floor("ms")).all()


def test_without_deployment_filter_reads_every_row(log_table):
    url, name, rows = log_table
    source = SqlLogSource(url, name, "scored_at")
    got = pd.concat(source.read_window(T0, T0 + 3 * HOUR))
    assert len(got) == len(rows)
    assert {"id", "scored_at", "deployment", "x", "cat", "row"} == set(got.columns)


def test_partial_and_empty_windows(log_table):
    url, name, rows = log_table
    source = SqlLogSource(url, name, "scored_at", "deployment", "a")
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=70)
    got = pd.concat(source.read_window(start, end, ["row"]))
    assert sorted(got.row) == list(window(rows, "a", start, end).row)
    assert list(source.read_window(T0 + 9 * HOUR, T0 + 10 * HOUR)) == []
    assert source.available_hours(T0 - HOUR, T0 + 9 * HOUR) == [T0, T0 + HOUR, T0 + 2 * HOUR]


def test_names_are_checked_against_the_database(log_table):
    url, name, rows = log_table
    with pytest.raises(ValueError, match="no table 'missing_table'"):
        SqlLogSource(url, "missing_table", "scored_at")
    with pytest.raises(ValueError, match=r"no column 'when'.*scored_at"):
        SqlLogSource(url, name, "when")
    with pytest.raises(ValueError, match=r"'x'.*expected a timestamp"):
        SqlLogSource(url, name, "x")
    with pytest.raises(ValueError, match="no column 'model'"):
        SqlLogSource(url, name, "scored_at", "model", "a")
    with pytest.raises(ValueError, match="go together"):
        SqlLogSource(url, name, "scored_at", "deployment", None)
    source = SqlLogSource(url, name, "scored_at")
    # a requested name is only ever matched against the reflected columns: one the table
    # lacks is left out of the chunks (the profile counts it missing), never put in the SQL
    chunks = list(source.read_window(T0, T0 + HOUR, ["x; drop table", "x"]))
    assert {tuple(c.columns) for c in chunks} == {("x",)}
    # every row, also those whose one selected column is NULL (an empty line in COPY's CSV)
    in_hour = (rows.scored_at >= T0) & (rows.scored_at < T0 + HOUR)
    assert sum(map(len, chunks)) == in_hour.sum() > 0
    assert sum(c.x.isna().sum() for c in chunks) > 0
    assert sum(map(len, source.read_window(T0, T0 + HOUR, ["x; drop table"]))) == sum(
        map(len, chunks)
    )


def test_naive_timestamp_column_is_read_as_utc(tmp_path):
    url = f"sqlite:///{tmp_path / 'naive.db'}"
    engine = create_engine(url)
    table = Table("logs", MetaData(), Column("ts", DateTime), Column("v", Float))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"ts": datetime(2025, 3, 1, 22, 30), "v": 1.0}])
        conn.execute(table.insert(), [{"ts": datetime(2025, 3, 1, 23, 30), "v": 2.0}])
    (got,) = SqlLogSource(url, "logs", "ts").read_window(T0, T0 + HOUR)
    assert list(got.v) == [1.0]
    assert got.ts.iloc[0] == pd.Timestamp("2025-03-01 22:30", tz="UTC")


@pytest.mark.postgres
@pytest.mark.parametrize(("use_copy", "statement"), [(True, "COPY"), (False, "FETCH")])
@pytest.mark.parametrize("log_table", ["postgresql"], indirect=True)
def test_postgres_streams_with_copy_or_a_server_side_cursor(log_table, use_copy, statement):
    url, name, _ = log_table
    source = SqlLogSource(url, name, "scored_at", "deployment", "a", 50, use_copy=use_copy)
    chunks = source.read_window(T0, T0 + 3 * HOUR)
    try:
        first = next(chunks)
        with create_engine(url).connect() as other:
            queries = other.execute(
                text(
                    "SELECT query FROM pg_stat_activity "
                    "WHERE datname = 'test' AND pid <> pg_backend_pid()"
                )
            ).scalars()
            assert any(q.lstrip().upper().startswith(statement) for q in queries)
        rest = list(chunks)
    finally:
        chunks.close()
    assert len(first) == 50 and sum(map(len, rest)) + 50 == 3 * ROWS_PER_HOUR


@pytest.mark.postgres
def test_password_never_appears_in_errors():
    postgres_url()
    secret = "s3cret-Pa55"
    with pytest.raises(ValueError) as missing:
        SqlLogSource(f"postgresql+psycopg://postgres:{secret}@127.0.0.1:5432/test", "nope", "t")
    assert secret not in str(missing.value) and "***" in str(missing.value)
    with pytest.raises(LogSourceError) as down:
        SqlLogSource(f"postgresql+psycopg://postgres:{secret}@127.0.0.1:1/test", "nope", "t")
    assert secret not in str(down.value) and down.value.__cause__ is None
    assert "127.0.0.1:1" in str(down.value)
