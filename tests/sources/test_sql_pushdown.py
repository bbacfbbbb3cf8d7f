"""Profiling inside PostgreSQL (sql_pushdown) gives the profile the Python path gives for the
same rows, on the real server: counts exactly, moments to 1e-9, with NaN, ±inf, NULL, values
on and beyond the edges, unseen and folded categories, numbers stored as text, real, numeric,
integer and boolean columns, a column the table lacks, rows of other deployments and hours,
empty windows, and any number of time slices."""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.sources import sql_pushdown
from monitoring_pipelines.sources.base import LogSourceError
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.dataset import DatasetProfile, fit_baseline, profile_chunks
from monitoring_pipelines.stats.profile import NumericalProfile
from tests.conftest import postgres_schema

pytestmark = pytest.mark.postgres

T0 = datetime(2025, 3, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROWS = 3000
KINDS = {
    "x": "numerical",  # float8 with NaN, ±inf, NULL, edge values and outliers
    "clean": "numerical",  # float8, only finite values (the raw-aggregate path)
    "offset": "numerical",  # 1e9 + noise: M2 must not cancel
    "drifted": "numerical",  # far from the baseline's mean and range
    "far": "numerical",  # 1e8 + noise against a N(0, 1) baseline: needs the second pass
    "count": "numerical",  # integer
    "ratio": "numerical",  # real (float4)
    "amount": "numerical",  # numeric(14, 4)
    "flag": "numerical",  # boolean
    "typed_as_text": "numerical",  # text holding numbers, words and blanks
    "absent": "numerical",  # not in the table
    "segment": "categorical",  # text: known, unseen, '' and NULL
    "city": "categorical",  # text of high cardinality, folded beyond the cap
    "code": "categorical",  # integer categories
    "score_band": "categorical",  # float8 categories: 1.0 prints as '1', NaN is missing
    "grade": "categorical",  # numeric categories
}
MAX_CATEGORIES = 8
MOMENT_FIELDS = {"mean", "m2"}


def _reference(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "clean": rng.lognormal(1, 0.5, n),
            "offset": 1e9 + rng.normal(0, 1, n),
            "drifted": rng.normal(0, 1, n),
            "count": rng.poisson(3, n).astype(float),
            "ratio": rng.uniform(0, 1, n).astype(np.float32).astype(float),
            "amount": np.round(rng.lognormal(4, 1, n), 4),
            "flag": rng.integers(0, 2, n).astype(float),
            "typed_as_text": rng.normal(5, 2, n),
            "absent": rng.normal(0, 1, n),
            "segment": rng.choice(["retail", "sme", "corporate"], n),
            "city": rng.choice([f"city_{i}" for i in range(5)], n),
            "code": rng.choice(["1", "2", "3"], n),
            "score_band": rng.choice(["1", "2", "2.5"], n),
            "grade": rng.choice(["1", "2"], n),
            "far": rng.normal(0, 1, n),  # drawn last: the other columns' draws stay
        }
    )


def _logs(rng: np.random.Generator, baseline: DatasetProfile, n: int = ROWS) -> pd.DataFrame:
    edges = baseline.columns["x"].edges
    x = rng.normal(0.2, 1.1, n)
    x[::17] = np.nan
    x[1::23] = np.inf
    x[2::29] = -np.inf
    x[3::31] = edges[1:-1][np.arange(len(x[3::31])) % (edges.size - 2)]  # exactly on edges
    x[4::37] = 1e6
    x = pd.Series(x, dtype=object)
    x[5::41] = None
    text_values = pd.Series(rng.normal(5, 2, n).round(3).astype(str), dtype=object)
    text_values[::13] = "abc"
    text_values[1::19] = ""
    text_values[2::43] = None
    text_values[3::47] = " 7.25 "
    text_values[4::53] = "1e3"
    segment = pd.Series(rng.choice(["retail", "sme", "corporate", "public", ""], n), dtype=object)
    segment[::11] = None
    code = pd.Series(rng.choice([1, 2, 3, 9], n), dtype=object)
    code[::7] = None
    band = pd.Series(rng.choice([1.0, 2.0, 2.5, 3.0], n), dtype=object)
    band[::9] = np.nan
    band[1::10] = None
    seconds = rng.uniform(0, 3600, n)
    seconds[:5] = [0.0, 0.000001, 1799.999999, 1800.0, 3599.999999]  # window and slice bounds
    return pd.DataFrame(
        {
            "scored_at": [T0 + timedelta(seconds=float(s)) for s in seconds],
            "deployment": "mine",
            "x": x,
            "clean": rng.lognormal(1.1, 0.5, n),
            "offset": 1e9 + rng.normal(0.5, 1, n),
            "drifted": rng.normal(1e4, 3, n),
            "count": pd.Series(rng.poisson(3.5, n), dtype=object).where(
                np.arange(n) % 5 != 0, None
            ),
            "ratio": rng.uniform(0, 1.2, n).astype(np.float32),
            "amount": np.round(rng.lognormal(4.2, 1, n), 4),
            "flag": rng.integers(0, 2, n).astype(bool),
            "typed_as_text": text_values,
            "segment": segment,
            "city": [f"city_{i}" for i in rng.integers(0, 40, n)],
            "code": code,
            "score_band": band,
            "grade": np.round(rng.choice([1.0, 2.0, 2.25], n), 2),
            "far": 1e8 + rng.normal(0, 1, n),
        }
    )


TABLE_DDL = (
    "CREATE TABLE {name} (scored_at timestamptz, deployment text, x float8, clean float8, "
    "offset_ float8, drifted float8, far float8, count int, ratio real, "
    "amount numeric(14, 4), flag boolean, typed_as_text text, segment text, city text, code int, "
    "score_band float8, grade numeric(6, 2))"
)


@pytest.fixture(scope="module")
def logs():
    """A log table with an hour of 'mine' (plus another deployment, neighbouring hours and
    null timestamps), its baseline, and the schema URL."""
    rng = np.random.default_rng(3)
    baseline = fit_baseline(_reference(rng), KINDS, n_bins=12, max_categories=MAX_CATEGORIES)
    hour = _logs(rng, baseline)
    other = _logs(rng, baseline, 500).assign(deployment="other")
    before = _logs(rng, baseline, 300).assign(scored_at=lambda f: [t - HOUR for t in f.scored_at])
    after = _logs(rng, baseline, 300).assign(scored_at=lambda f: [t + HOUR for t in f.scored_at])
    nulls = _logs(rng, baseline, 50).assign(scored_at=None)
    frame = pd.concat([hour, other, before, after, nulls], ignore_index=True)
    frame = frame.rename(columns={"offset": "offset_"})
    with postgres_schema("mp_pushdown") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(TABLE_DDL.format(name="logs")))
            records = frame.astype(object).where(frame.notna() | _nan_mask(frame), None)
            columns = ", ".join(frame.columns)
            values = ", ".join(f":{c}" for c in frame.columns)
            conn.execute(
                text(f"INSERT INTO logs ({columns}) VALUES ({values})"),
                records.to_dict("records"),
            )
        engine.dispose()
        yield url, baseline_renamed(baseline)


def _nan_mask(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep float NaN (PostgreSQL float8 has NaN) where the value is a float NaN, not None."""
    return frame.map(lambda v: isinstance(v, float) and math.isnan(v))


def baseline_renamed(baseline: DatasetProfile) -> DatasetProfile:
    """The table calls ``offset`` ``offset_`` (OFFSET is an SQL keyword)."""
    columns = {("offset_" if k == "offset" else k): v for k, v in baseline.columns.items()}
    return DatasetProfile(baseline.row_count, columns)


def _source(url: str, **options) -> SqlLogSource:
    return SqlLogSource(url, "logs", "scored_at", "deployment", "mine", chunk_rows=10**6, **options)


def python_path(source: SqlLogSource, baseline: DatasetProfile, start, end) -> DatasetProfile:
    """What the pipeline computes without push-down: the rows, one chunk, profiled."""
    present = [c for c in baseline.columns if c in source.table.c]
    return profile_chunks(source.read_window(start, end, [*present, "scored_at"]), baseline)


def assert_same_profile(got: DatasetProfile, want: DatasetProfile) -> None:
    assert got.row_count == want.row_count
    assert got.absent_columns == want.absent_columns
    assert got.extra_columns == want.extra_columns
    assert list(got.columns) == list(want.columns)
    for name, expected in want.columns.items():
        actual = got.columns[name]
        assert type(actual) is type(expected), name
        for field in fields(expected):
            a, b = getattr(actual, field.name), getattr(expected, field.name)
            where = f"{name}.{field.name}: {a!r} != {b!r}"
            if isinstance(b, np.ndarray):
                assert np.array_equal(a, b), where
            elif field.name in MOMENT_FIELDS and isinstance(b, float) and math.isfinite(b):
                scale = abs(b) if field.name == "m2" else max(abs(b), math.sqrt(expected.m2))
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale), where
            elif isinstance(b, float) and math.isnan(b):
                assert isinstance(a, float) and math.isnan(a), where
            else:
                assert a == b, where


@pytest.mark.parametrize("workers", [1, 3])
def test_pushdown_equals_the_python_path_on_the_hour(logs, workers):
    url, baseline = logs
    source = _source(url, pushdown_workers=workers)
    got = source.profile_window(T0, T0 + HOUR, baseline)
    want = python_path(_source(url), baseline, T0, T0 + HOUR)
    assert want.row_count == ROWS
    assert_same_profile(got, want)


def test_the_hour_exercises_what_it_claims(logs):
    """Guard against a fixture that quietly lost its edge cases."""
    url, baseline = logs
    got = _source(url).profile_window(T0, T0 + HOUR, baseline)
    x, text_column = got.columns["x"], got.columns["typed_as_text"]
    assert x.pos_inf and x.neg_inf and x.missing and x.max == 1e6
    assert text_column.invalid and text_column.missing
    assert got.columns["city"].other > 0  # folded beyond the cap
    assert got.columns["count"].discrete and got.columns["flag"].discrete  # counted by value
    assert got.columns["count"].new_values  # values the baseline never had, listed
    assert "public" in got.columns["segment"].counts and "" in got.columns["segment"].counts
    assert got.columns["score_band"].counts.get("1") and got.columns["score_band"].missing
    assert got.columns["drifted"].min > got.columns["drifted"].edges[-2]
    far = got.columns["far"]  # its mean lies ~1e8 standard deviations from the shift
    assert (far.mean - baseline.columns["far"].mean) ** 2 > 1e14 * far.m2 / far.n_finite
    assert got.absent_columns == ("absent",)
    assert got.columns["absent"].missing == ROWS


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0 + timedelta(minutes=7), T0 + timedelta(minutes=41)),  # part of the hour
        (T0 - HOUR, T0 + 2 * HOUR),  # three hours at once
        (T0 + 5 * HOUR, T0 + 6 * HOUR),  # no rows
    ],
)
def test_pushdown_equals_the_python_path_on_other_windows(logs, start, end):
    url, baseline = logs
    got = _source(url, pushdown_workers=2).profile_window(start, end, baseline)
    assert_same_profile(got, python_path(_source(url), baseline, start, end))


def test_the_raw_aggregate_path_is_taken_only_for_columns_without_non_finite_values(logs):
    """With NaN or ±inf present, raw avg/var_pop/max would be NaN or ±inf: the finite ones
    are recomputed; a clean column keeps the raw aggregates (and still matches)."""
    url, baseline = logs
    got = _source(url).profile_window(T0, T0 + HOUR, baseline)
    for name in ("x", "clean", "offset_"):
        column = got.columns[name]
        assert isinstance(column, NumericalProfile)
        assert math.isfinite(column.mean) and math.isfinite(column.m2)
        assert math.isfinite(column.min) and math.isfinite(column.max)


def test_pushdown_is_off_when_asked_or_on_other_dialects(logs, tmp_path):
    url, baseline = logs
    assert _source(url, pushdown=False).profile_window(T0, T0 + HOUR, baseline) is None
    sqlite = f"sqlite:///{tmp_path / 'logs.db'}"
    engine = create_engine(sqlite)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE logs (scored_at timestamp, x float)"))
    source = SqlLogSource(sqlite, "logs", "scored_at")
    assert not sql_pushdown.supports(source)
    assert source.profile_window(T0, T0 + HOUR, baseline) is None


def test_database_errors_surface_without_the_password(logs):
    url, baseline = logs
    source = _source(url)
    with source.engine.begin() as conn:
        conn.execute(text("ALTER TABLE logs RENAME COLUMN clean TO clean_"))
    try:
        with pytest.raises(LogSourceError, match="clean"):
            source.profile_window(T0, T0 + HOUR, baseline)
    finally:
        with source.engine.begin() as conn:
            conn.execute(text("ALTER TABLE logs RENAME COLUMN clean_ TO clean"))


def test_workers_must_be_positive(logs):
    url, baseline = logs
    with pytest.raises(ValueError, match="workers must be at least 1"):
        sql_pushdown.profile_window(_source(url), T0, T0 + HOUR, baseline, workers=0)
