"""Segments in the store, on SQLite and PostgreSQL: the migration from the unsegmented schema
keeps every row as the population ``__all__``; segment rows are written in their window's
partition (a rewrite replaces them all) and readers see the population unless asked; the
``aggregates_<deployment>`` view shows the population only and ``segments_<deployment>``
every segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import score
from monitoring_pipelines.store.aggregates import (
    read_baseline,
    read_hour_volumes,
    read_segment_baselines,
    read_segment_windows,
    read_windows,
    write_profile,
)
from monitoring_pipelines.store.drift import (
    read_drift_scores,
    read_new_drift_scores,
    write_drift_scores,
)
from monitoring_pipelines.store.engine import ensure_deployment_views, get_engine
from monitoring_pipelines.store.migrate import alembic_config, current_revision, head_revision
from monitoring_pipelines.store.performance import window_values
from monitoring_pipelines.store.schema import aggregates, drift_scores, model_performance
from monitoring_pipelines.store.windows import windows_since

T0 = datetime(2026, 11, 3, 5, tzinfo=UTC)
H = timedelta(hours=1)
UNSEGMENTED = "0009_multivariate_models"  # the last revision before segments
OLD_VIEW = (  # the view as ensure_deployment_views made it before segments
    'CREATE VIEW aggregates_model_a AS SELECT id::bigint AS id, "timestamp", column_name, '
    "is_baseline, row_count FROM aggregates WHERE deployment_id = 'model_a'"
)


def _frames():
    rng = np.random.default_rng(13)
    reference = pd.DataFrame(
        {"x": rng.normal(0, 1, 900), "region": rng.choice(["eu", "us", "apac"], 900)}
    )
    return reference, reference.sample(300, random_state=2).reset_index(drop=True)


def _by_region(frame: pd.DataFrame, baseline):
    return {
        f"region={value}": profile_frame(part, baseline)
        for value, part in frame.groupby("region", sort=True)
    }


def test_migration_from_the_unsegmented_schema_keeps_rows_as_the_population(empty_store_url):
    engine = create_engine(empty_store_url)
    common = {"deployment_id": "model_a", "computed_at": T0}
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), UNSEGMENTED)
        conn.execute(
            insert(aggregates).values(
                **common,
                timestamp=T0,
                column_name="x",
                is_baseline=False,
                is_response=False,
                logical_type=1,
                bin_edges=[float("-inf"), 0.0, float("inf")],
                bin_counts=[3, 4],
                missing_counts=1,
                count=7,
                invalid_counts=0,
                row_count=8,
            )
        )
        drift = {"window_start": T0, "window_end": T0 + H, "granularity": "hour"}
        conn.execute(
            insert(drift_scores),
            {**common, **drift, "column_name": "x", "metric": "psi", "value": 0.3}
            | {"status": "significant", "drifted": True, "reference_size": 9}
            | {"current_size": 8},
        )
        conn.execute(
            insert(model_performance),
            {**common, "window_start": T0, "window_end": T0 + H, "metric": "accuracy"}
            | {"value": 0.9, "n_labelled": 8, "kind": "realized"},
        )
        if conn.dialect.name == "postgresql":
            conn.execute(text(OLD_VIEW))
    engine.dispose()

    engine = get_engine(empty_store_url)  # upgrades to head
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        for table in (aggregates, drift_scores, model_performance):
            segments = conn.execute(select(table.c.segment)).scalars().all()
            assert segments == ["__all__"], table.name
    # (rows, log files): files are counted by a Parquet source, not by these writes
    assert read_hour_volumes(engine, "model_a", T0, T0 + H) == {T0: (8, None)}
    assert [r["value"] for r in read_drift_scores(engine, "model_a", T0, T0 + H)] == [0.3]
    assert list(window_values(engine, "model_a", T0, T0 + H)) == [(T0, "accuracy", 0.9)]
    # a segment row of the same window and column is another row of the natural key
    reference, current = _frames()
    baseline = fit_baseline(reference, {"x": "numerical"})
    write_profile(
        engine,
        "model_b",
        T0,
        profile_frame(current, baseline),
        is_baseline=False,
        segments={"region=eu": profile_frame(current[current.region == "eu"], baseline)},
    )
    if engine.dialect.name == "postgresql":  # the old view now shows the population only
        with engine.begin() as conn:
            conn.execute(
                insert(aggregates).values(
                    **common,
                    timestamp=T0,
                    column_name="x",
                    is_baseline=False,
                    is_response=False,
                    logical_type=1,
                    missing_counts=0,
                    count=2,
                    invalid_counts=0,
                    row_count=2,
                    segment="region=eu",
                )
            )
            rows = conn.execute(text("SELECT row_count FROM aggregates_model_a")).scalars()
            assert list(rows) == [8]


def test_segment_rows_share_their_window_partition(empty_store_url):
    engine = get_engine(empty_store_url)
    reference, current = _frames()
    kinds = {"x": "numerical", "region": "categorical"}
    baseline = fit_baseline(reference, kinds)
    write_profile(
        engine,
        "model_s",
        T0,
        baseline,
        is_baseline=True,
        segments=_by_region(reference, baseline),
    )
    stored = read_baseline(engine, "model_s")
    assert stored.row_count == 900
    segment_baselines = read_segment_baselines(engine, "model_s")
    assert sorted(segment_baselines) == ["region=apac", "region=eu", "region=us"]
    assert sum(p.row_count for p in segment_baselines.values()) == 900
    assert (
        read_baseline(engine, "model_s", "region=eu").row_count == (reference.region == "eu").sum()
    )

    population = profile_frame(current, stored)
    write_profile(
        engine, "model_s", T0, population, is_baseline=False, segments=_by_region(current, stored)
    )
    # a rewrite with fewer segments leaves none of the old ones behind
    eu = current[current.region == "eu"]
    write_profile(
        engine,
        "model_s",
        T0,
        population,
        is_baseline=False,
        segments={"region=eu": profile_frame(eu, stored)},
    )
    [(moment, window)] = read_windows(engine, "model_s", T0, T0 + H, stored).items()
    assert moment == T0 and window.row_count == 300
    assert window.columns["region"].counts == population.columns["region"].counts
    segments = read_segment_windows(engine, "model_s", T0, T0 + H, stored)
    assert list(segments[T0]) == ["region=eu"]
    assert segments[T0]["region=eu"].columns["region"].counts["eu"] == len(eu)
    assert read_hour_volumes(engine, "model_s", T0, T0 + H) == {T0: (300, None)}
    with engine.connect() as conn:
        n = conn.execute(
            select(func.count()).where(
                aggregates.c.deployment_id == "model_s", aggregates.c.is_baseline.is_(False)
            )
        ).scalar_one()
    assert n == 2 * 2  # two columns, population and one segment

    with pytest.raises(IntegrityError), engine.begin() as conn:  # one row per natural key
        row = (
            conn.execute(select(aggregates).where(aggregates.c.segment == "region=eu").limit(1))
            .mappings()
            .one()
        )
        conn.execute(insert(aggregates).values({**row, "id": None}))


def test_drift_scores_of_segments_are_read_only_when_asked(empty_store_url):
    engine = get_engine(empty_store_url)
    rng = np.random.default_rng(5)
    reference = rng.normal(size=1000)

    def results(shift):
        return {"x": (score("psi", reference, rng.normal(shift, 1, 400)),)}

    written = write_drift_scores(
        engine,
        "model_d",
        T0,
        T0 + H,
        "hour",
        results(0.0),
        segments={"region=eu": results(2.0), "region=us": results(0.0)},
    )
    assert written == 3
    population = read_drift_scores(engine, "model_d", T0, T0 + H)
    assert [r["segment"] for r in population] == ["__all__"]
    every = read_drift_scores(engine, "model_d", T0, T0 + H, segment=None)
    assert sorted(r["segment"] for r in every) == ["__all__", "region=eu", "region=us"]
    [eu] = read_drift_scores(engine, "model_d", T0, T0 + H, segment="region=eu")
    assert eu["drifted"] and not population[0]["drifted"]
    # one window for the sensors, however many segments it holds
    [window] = windows_since(engine, "drift_scores", "hour", 0, 10)
    assert window.row_count == 3
    seq = window.commit_seq
    assert len(read_new_drift_scores(engine, "hour", seq - 1, seq)) == 1
    assert len(read_new_drift_scores(engine, "hour", seq - 1, seq, segment=None)) == 3


@pytest.mark.postgres
def test_deployment_views_show_the_population_and_every_segment(postgres_url):
    engine = get_engine(postgres_url)
    reference, current = _frames()
    baseline = fit_baseline(reference, {"x": "numerical", "region": "categorical"})
    write_profile(engine, "model_w", T0, baseline, is_baseline=True)
    write_profile(
        engine,
        "model_w",
        T0,
        profile_frame(current, baseline),
        is_baseline=False,
        segments=_by_region(current, baseline),
    )
    ensure_deployment_views(engine, ["model_w"])
    with engine.connect() as conn:
        population = conn.execute(
            text("SELECT count(*), max(row_count) FROM aggregates_model_w WHERE NOT is_baseline")
        ).one()
        segments = conn.execute(
            text(
                "SELECT segment, max(row_count) FROM segments_model_w WHERE NOT is_baseline "
                "GROUP BY segment ORDER BY segment"
            )
        ).all()
    assert tuple(population) == (2, 300)
    expected = current.region.value_counts()
    assert dict(segments) == {
        "__all__": 300,
        **{f"region={value}": int(n) for value, n in expected.items()},
    }
