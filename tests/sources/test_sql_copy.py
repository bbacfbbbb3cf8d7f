"""The PostgreSQL COPY fast path of SqlLogSource gives the frames of the generic path."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.sources.base import LogSourceError
from monitoring_pipelines.sources.sql import SqlLogSource
from tests.sources.test_sql_source import postgres_url

T0 = datetime(2025, 3, 1, 22, tzinfo=UTC)
HOUR = timedelta(hours=1)
TRICKY_ID = "o'brien\"; DROP TABLE x; --"
FLOATS = [float("nan"), math.inf, -math.inf, None, 5e-324, 1.7976931348623157e308, -0.0, 0.1]
STRINGS = ["", "ünïcødé ✓", None, "NaN", "NULL", 'a,"b"\nc', "back\\slash", " padded "]


@pytest.fixture
def tricky_table():
    """A table with awkward names and values: (url, table name, rows as inserted)."""
    url = postgres_url()
    name = f"copy_logs_{uuid.uuid4().hex[:10]}"
    rows = []
    for i in range(96):
        rows.append(
            {
                "id": i,
                "timestamp": T0 + timedelta(minutes=2 * i + 0.5, microseconds=i),
                "deployment": ("a", TRICKY_ID)[i % 2],
                "select": FLOATS[i % len(FLOATS)],
                "r": None if i % 5 == 0 else i / 4,
                "i": None if i % 7 == 0 else i,
                "b": 2**40 + i,
                "s": STRINGS[i % len(STRINGS)],
                "flag": (True, False, None)[i % 3],
                "n": None if i % 11 == 0 else i / 8,
                "sparse": 1.5 if i == 40 else None,
                "naive": datetime(2025, 1, 1) + timedelta(seconds=i) if i % 2 else None,
            }
        )
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                f'CREATE TABLE {name} (id int, "timestamp" timestamptz, deployment text, '
                '"select" float8, r real, i int, b bigint, s text, flag boolean, n numeric, '
                "sparse float8, naive timestamp, day date)"
            )
        )
        conn.execute(
            text(
                f'INSERT INTO {name} (id, "timestamp", deployment, "select", r, i, b, s, flag, '
                "n, sparse, naive) VALUES (:id, :timestamp, :deployment, :select, :r, :i, :b, "
                ":s, :flag, :n, :sparse, :naive)"
            ),
            rows,
        )
    yield url, name, pd.DataFrame(rows)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {name}"))
    engine.dispose()


def both_paths(url, name, deployment, start, end, columns, chunk_rows=10):
    """The chunks read with COPY and with the server-side cursor."""
    return [
        list(
            SqlLogSource(
                url, name, "timestamp", "deployment", deployment, chunk_rows, use_copy=use_copy
            ).read_window(start, end, columns)
        )
        for use_copy in (True, False)
    ]


def statement_while_streaming(url: str, name: str, columns: list[str] | None) -> str:
    """The first word of the query the source's session runs while it holds a chunk."""
    probe = f"probe_{uuid.uuid4().hex[:10]}"
    chunks = SqlLogSource(f"{url}?application_name={probe}", name, "timestamp", chunk_rows=10)
    chunks = chunks.read_window(T0, T0 + 4 * HOUR, columns)
    try:
        next(chunks)
        with create_engine(url).connect() as other:
            query = other.execute(
                text(
                    "SELECT query FROM pg_stat_activity "
                    "WHERE application_name = :probe AND backend_type = 'client backend'"
                ),
                {"probe": probe},
            ).scalar_one()
    finally:
        chunks.close()
    return query.split()[0].upper()


def exact(value: object) -> str:
    """A float's exact text, with None (SQL NULL) and NaN both 'nan' as the profiler sees them."""
    return "nan" if value is None else repr(float(value))


COLUMNS = ["timestamp", "select", "r", "i", "b", "s", "flag", "n", "sparse", "naive", "id"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("deployment", "start", "end"),
    [
        ("a", T0, T0 + 4 * HOUR),
        (TRICKY_ID, T0 + timedelta(minutes=30), T0 + timedelta(minutes=150)),
        ("a", T0 + 9 * HOUR, T0 + 10 * HOUR),
        ("nobody", T0, T0 + 4 * HOUR),
    ],
)
def test_copy_frames_equal_the_generic_frames(tricky_table, deployment, start, end):
    url, name, rows = tricky_table
    fast, generic = both_paths(url, name, deployment, start, end, COLUMNS)
    assert [len(c) for c in fast] == [len(c) for c in generic]
    assert all(len(c) == 10 for c in fast[:-1]) and all(len(c) <= 10 for c in fast)
    for got, want in zip(fast, generic, strict=True):
        pd.testing.assert_frame_equal(got, want)
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    mask = (rows.deployment == deployment) & (stamps >= start) & (stamps < end)
    expected = rows[mask]
    got = pd.concat(fast, ignore_index=True) if fast else pd.DataFrame(columns=COLUMNS)
    assert list(got.id) == list(expected.id)
    assert str(got["timestamp"].dtype) == "datetime64[us, UTC]" if fast else True
    assert list(got["timestamp"]) == list(stamps[mask])
    for column in ("select", "r", "n", "sparse"):
        assert list(map(exact, got[column])) == list(map(exact, expected[column]))
    assert [None if pd.isna(v) else v for v in got.s] == [STRINGS[i % 8] for i in expected.id]


@pytest.mark.postgres
def test_all_null_chunks_match_the_generic_dtypes(tricky_table):
    url, name, _ = tricky_table
    fast, generic = both_paths(url, name, "a", T0, T0 + 4 * HOUR, ["sparse", "i"], chunk_rows=4)
    dtypes = [str(c["sparse"].dtype) for c in fast]
    assert "object" in dtypes and "float64" in dtypes
    assert dtypes == [str(c["sparse"].dtype) for c in generic]
    assert [str(c.i.dtype) for c in fast] == [str(c.i.dtype) for c in generic]


@pytest.mark.postgres
def test_copy_is_used_only_when_every_column_type_is_supported(tricky_table):
    url, name, _ = tricky_table
    assert statement_while_streaming(url, name, ["timestamp", "select", "s"]) == "COPY"
    assert statement_while_streaming(url, name, ["timestamp", "day"]) == "FETCH"
    assert statement_while_streaming(url, name, None) == "FETCH"


@pytest.mark.postgres
def test_copy_streams_and_stops_early():
    url = postgres_url()
    name = f"copy_big_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {name} AS SELECT timestamptz {T0.isoformat()!r} + g * interval "
                "'1 ms' AS \"timestamp\", g::float8 AS x, repeat('v', 60) || g AS s "
                "FROM generate_series(0, 299999) AS g"
            )
        )
    try:
        probe = f"probe_{uuid.uuid4().hex[:10]}"
        source = SqlLogSource(
            f"{url}?application_name={probe}", name, "timestamp", chunk_rows=1_000
        )
        chunks = source.read_window(T0, T0 + HOUR)
        try:
            first = next(chunks)
            with engine.connect() as other:
                query, state = other.execute(
                    text(
                        "SELECT query, state FROM pg_stat_activity "
                        "WHERE application_name = :probe AND backend_type = 'client backend'"
                    ),
                    {"probe": probe},
                ).one()
        finally:
            chunks.close()
        assert len(first) == 1_000 and first.x.between(0, 299_999).all()
        assert query.startswith("COPY") and state == "active"
        total = sum(len(c) for c in source.read_window(T0, T0 + HOUR, ["x"]))
        assert total == 300_000
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))
        engine.dispose()


@pytest.mark.postgres
def test_copy_errors_are_log_source_errors_without_the_password():
    postgres_url()
    secret = "s3cret-Pa55"
    url = f"postgresql+psycopg://postgres:{secret}@127.0.0.1:5432/test"
    name = f"copy_bad_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE TABLE {name} ("timestamp" timestamptz, later timestamptz)'))
        conn.execute(text(f"INSERT INTO {name} VALUES ('{T0.isoformat()}', 'infinity')"))
    try:
        with pytest.raises(LogSourceError) as error:
            list(SqlLogSource(url, name, "timestamp").read_window(T0, T0 + HOUR))
        assert secret not in str(error.value) and "***" in str(error.value)
        assert error.value.__cause__ is None
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))
        engine.dispose()
