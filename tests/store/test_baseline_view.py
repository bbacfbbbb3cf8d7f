"""The aggregates_<deployment> and segments_<deployment> views after a retraining: the table
keeps every baseline version, the views show the latest one only, so SQL written for one
baseline row per column (H2O-style drift queries) keeps its answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.store.aggregates import write_profile
from monitoring_pipelines.store.engine import ensure_deployment_views, get_engine
from monitoring_pipelines.store.schema import aggregates
from tests.conftest import postgres_schema

T0 = datetime(2026, 11, 5, 8, tzinfo=UTC)
H = timedelta(hours=1)


def sample(seed: int, loc: float, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(loc, 1.0, n), "c": rng.choice(["a", "b"], n)})


def test_the_views_show_the_latest_baseline_version_and_every_hour():
    kinds = {"x": "numerical", "c": "categorical"}
    with postgres_schema("mp_view") as url:
        engine = get_engine(url)
        old, new = fit_baseline(sample(0, 0.0, 2000), kinds), fit_baseline(sample(1, 3, 900), kinds)
        write_profile(engine, "m", T0, old, is_baseline=True)
        ensure_deployment_views(engine, ["m"])
        write_profile(engine, "m", T0 + H, profile_frame(sample(2, 0.0, 300), old),
                      is_baseline=False, window_end=T0 + 2 * H)  # fmt: skip
        write_profile(engine, "m", T0 + 3 * H, new, is_baseline=True)  # the retrained model's
        ensure_deployment_views(engine, ["m"])  # what baseline_statistics does after a fit
        write_profile(engine, "m", T0 + 4 * H, profile_frame(sample(3, 3.0, 200), new),
                      is_baseline=False, window_end=T0 + 5 * H)  # fmt: skip
        with engine.connect() as conn:
            stored = conn.execute(
                select(func.count()).where(aggregates.c.is_baseline.is_(True))
            ).scalar()
            views = {
                name: conn.execute(
                    text(
                        f'SELECT "timestamp", is_baseline, column_name, row_count FROM {name} '
                        'ORDER BY "timestamp", column_name'
                    )
                ).all()
                for name in ("aggregates_m", "segments_m")
            }
        engine.dispose()
    assert stored == 4  # both versions kept in the table (two columns each)
    for name, rows in views.items():
        baseline = [(r.timestamp, r.column_name, r.row_count) for r in rows if r.is_baseline]
        assert baseline == [(T0 + 3 * H, "c", 900), (T0 + 3 * H, "x", 900)], name
        hours = sorted({r.timestamp for r in rows if not r.is_baseline})
        assert hours == [T0 + H, T0 + 4 * H], name
