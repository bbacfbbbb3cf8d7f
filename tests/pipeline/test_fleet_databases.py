"""The fleet path on SQLite and PostgreSQL: windows with NaN and ±inf, unseen categories and an
all-missing hour, every deployment's windows scored in one batch, equal ``score_window`` window
by window, and stored as scored."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.pipeline.drift import score_settings, score_windows
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.scoring import score_window
from monitoring_pipelines.stats.windows import merge_window
from monitoring_pipelines.store.aggregates import write_profile
from monitoring_pipelines.store.drift import read_drift_scores, write_drift_scores
from monitoring_pipelines.store.engine import get_engine
from tests.pipeline.test_fleet_scoring import DAY, DEPLOYMENTS, _config
from tests.stats.test_batch_scoring import assert_same

H = timedelta(hours=1)


def _frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.02] = np.inf
    x[rng.random(n) < 0.02] = -np.inf
    names = ["a", "b", "c", "d"] + (["unseen", "other_new"] if shift else [])
    return pd.DataFrame({"x": x, "c": rng.choice(names, n)})


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_fleet_windows_with_edge_cases_equal_window_by_window(tmp_path, request, database) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url")
    config, engine, rng = _config(tmp_path), get_engine(url), np.random.default_rng(15)
    kinds = {"x": "numerical", "c": "categorical"}
    stored = {}
    for i, d in enumerate(DEPLOYMENTS):
        baseline = fit_baseline(_frame(800, rng, 0.0), kinds, n_bins=8)
        write_profile(engine, d, DAY, baseline, is_baseline=True)
        frames = [_frame(60, rng, i * 0.9), _frame(40, rng, 0.0).assign(x=np.nan, c=None)]
        hourly = {DAY + k * H: profile_frame(f, baseline) for k, f in enumerate(frames)}
        for start, profile in hourly.items():
            write_profile(engine, d, start, profile, is_baseline=False, window_end=start + H)
        stored[d] = (baseline, hourly)
    run = [(d, DAY + H) for d in DEPLOYMENTS]
    results = score_windows(config, engine, run)
    assert {r.granularity for r in results} == {"hour", "trailing_24h", "day", "week"}
    statuses = set()
    for r in results:
        baseline, hourly = stored[r.deployment_id]
        window = merge_window(hourly, r.start, r.end)
        settings = score_settings(config, config.deployment(r.deployment_id))
        assert_same(score_window(baseline, window, settings), r.scores)
        rows = read_drift_scores(engine, r.deployment_id, r.start, r.start + H, r.granularity)
        stored_values = {(row["column_name"], row["metric"]): row["value"] for row in rows}
        for column, scores in r.scores.items():
            for s in scores:
                statuses.add(s.status)
                expected = None if s.value is None or not np.isfinite(s.value) else s.value
                assert stored_values[(column, s.metric)] == expected, (column, s.metric)
        # every field as the results' own DriftResult objects store it, row for row
        as_objects = {column: tuple(scores) for column, scores in r.scores.items()}
        check = f"{r.deployment_id}_check"
        write_drift_scores(engine, check, r.start, r.end, r.granularity, as_objects)
        again = read_drift_scores(engine, check, r.start, r.start + H, r.granularity)
        assert [_fields(row) for row in rows] == [_fields(row) for row in again]
    assert "insufficient_data" in statuses  # the all-missing hour
    assert any(s.drifted for r in results for v in r.scores.values() for s in v)


def _fields(row: dict) -> dict:
    """A stored row without what differs between two writes of the same results."""
    return {k: v for k, v in row.items() if k not in ("id", "deployment_id", "computed_at")}
