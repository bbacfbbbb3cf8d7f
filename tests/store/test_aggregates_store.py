"""The aggregates table on SQLite and on the real PostgreSQL server: round trips, idempotent
partition writes, the per-deployment view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.store.aggregates import read_baseline, read_windows, write_profile
from monitoring_pipelines.store.engine import (
    check_deployment_id,
    ensure_deployment_views,
    get_engine,
)
from monitoring_pipelines.store.schema import aggregates

HOUR = datetime(2026, 11, 3, 5, tzinfo=UTC)
RNG = np.random.default_rng(3)


def _frames():
    reference = pd.DataFrame(
        {
            "x": RNG.normal(0, 1, 2000),
            "c": RNG.choice(["a", "b", "c"], 2000),
            "p": RNG.choice(["0", "1"], 2000),
        }
    )
    current = reference.sample(500, random_state=1).reset_index(drop=True)
    current.loc[::10, "x"] = np.nan
    current.loc[::7, "c"] = "new"
    return reference, current


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, sqlite_url):
    if request.param == "sqlite":
        return get_engine(sqlite_url)
    return get_engine(request.getfixturevalue("postgres_url"))


def test_round_trip_and_idempotent_rewrite(engine):
    reference, current = _frames()
    kinds = {"x": "numerical", "c": "categorical", "p": "categorical"}
    baseline = fit_baseline(reference, kinds)
    write_profile(engine, "model_a", HOUR, baseline, is_baseline=True, response_columns={"p"})
    stored_baseline = read_baseline(engine, "model_a")
    assert stored_baseline.row_count == 2000
    np.testing.assert_array_equal(stored_baseline.columns["x"].edges, baseline.columns["x"].edges)

    window = profile_frame(current, stored_baseline)
    for _ in range(3):
        write_profile(engine, "model_a", HOUR, window, is_baseline=False, response_columns={"p"})
    with engine.connect() as conn:
        n_rows = conn.execute(
            select(func.count()).where(
                aggregates.c.deployment_id == "model_a", aggregates.c.is_baseline.is_(False)
            )
        ).scalar_one()
        responses = (
            conn.execute(select(aggregates.c.column_name).where(aggregates.c.is_response.is_(True)))
            .scalars()
            .all()
        )
    assert n_rows == 3  # one row per column, however often the hour is rewritten
    assert set(responses) == {"p"}

    read = read_windows(engine, "model_a", HOUR, HOUR + timedelta(hours=1), stored_baseline)
    assert list(read) == [HOUR]
    x, c = read[HOUR].columns["x"], read[HOUR].columns["c"]
    np.testing.assert_array_equal(x.counts, window.columns["x"].counts)
    assert x.missing == 50 and x.mean == pytest.approx(window.columns["x"].mean, rel=1e-12)
    assert c.counts == window.columns["c"].counts
    assert read[HOUR].row_count == 500


def test_a_failed_write_keeps_the_old_rows(engine):
    reference, current = _frames()
    baseline = fit_baseline(reference, {"x": "numerical"})
    write_profile(engine, "model_b", HOUR, baseline, is_baseline=True)
    window = profile_frame(current, baseline)
    write_profile(engine, "model_b", HOUR, window, is_baseline=False)
    broken = profile_frame(current, baseline)
    object.__setattr__(broken.columns["x"], "counts", np.array([object()]))
    with pytest.raises(Exception, match=r"(?i)object|adapt|serializ|type"):
        write_profile(engine, "model_b", HOUR, broken, is_baseline=False)
    read = read_windows(engine, "model_b", HOUR, HOUR + timedelta(hours=1), baseline)
    np.testing.assert_array_equal(read[HOUR].columns["x"].counts, window.columns["x"].counts)


def test_bin_edges_have_one_more_element_than_bin_counts(engine):
    reference, _ = _frames()
    write_profile(
        engine, "model_c", HOUR, fit_baseline(reference, {"x": "numerical"}), is_baseline=True
    )
    with engine.connect() as conn:
        row = conn.execute(
            select(aggregates.c.bin_edges, aggregates.c.bin_counts).where(
                aggregates.c.deployment_id == "model_c"
            )
        ).one()
    assert len(row.bin_edges) == len(row.bin_counts) + 1
    assert row.bin_edges[0] == -np.inf and row.bin_edges[-1] == np.inf


def test_per_deployment_view_on_postgresql(postgres_url):
    engine = get_engine(postgres_url)
    reference, current = _frames()
    baseline = fit_baseline(reference, {"x": "numerical", "c": "categorical"})
    write_profile(engine, "model_v", HOUR, baseline, is_baseline=True)
    write_profile(engine, "model_v", HOUR, profile_frame(current, baseline), is_baseline=False)
    ensure_deployment_views(engine, ["model_v"])
    ensure_deployment_views(engine, ["model_v"])  # idempotent
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT column_name, is_baseline, ROUND(mean, 3) AS mean, "
                    "array_length(bin_edges, 1) - array_length(bin_counts, 1) AS extra, "
                    "pg_typeof(mean)::text AS mean_type, pg_typeof(bin_edges)::text AS edges_type, "
                    "pg_typeof(value_counts)::text AS counts_type "
                    "FROM aggregates_model_v ORDER BY is_baseline, column_name"
                )
            )
            .mappings()
            .all()
        )
    assert len(rows) == 4
    numeric = [r for r in rows if r["column_name"] == "x"]
    assert all(r["extra"] == 1 for r in numeric)
    assert {r["mean_type"] for r in rows} == {"numeric"}
    assert {r["edges_type"] for r in rows} == {"double precision[]"}
    assert {r["counts_type"] for r in rows} == {"jsonb"}


@pytest.mark.parametrize("bad", ["Model", "1abc", "a-b", "a;drop table x", "", "x" * 49, None])
def test_unsafe_deployment_ids_are_rejected(bad):
    with pytest.raises(ValueError, match="unsafe deployment id"):
        check_deployment_id(bad)
