"""Issue 15, item 5: a run's drift over many deployments reads the baselines, calibrations and
hours in one query each, scores every window in one batch and writes them in one transaction,
with the results ``score_window`` gives window by window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import event

from monitoring_pipelines.config import load_config
from monitoring_pipelines.pipeline import drift
from monitoring_pipelines.pipeline.drift import score_settings, score_windows
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.scoring import score_window
from monitoring_pipelines.stats.windows import merge_window
from monitoring_pipelines.store.aggregates import write_profile
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine
from tests.stats.test_batch_scoring import assert_same

DAY = datetime(2026, 11, 4, tzinfo=UTC)
H = timedelta(hours=1)
DEPLOYMENTS = ("fleet_a", "fleet_b", "fleet_c")


def _config(folder: Path):
    columns = [
        {"name": "ts", "role": "timestamp"},
        {"name": "x", "type": "numerical"},
        {"name": "c", "type": "categorical"},
    ]
    deployments = [
        {
            "id": d,
            "reference": {"path": "reference.parquet"},
            "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
            "start": DAY.isoformat(),
            "columns": columns,
            "drift": {"min_rows": 20, "thresholds": {"psi": 0.05 * (i + 1)}},
        }
        for i, d in enumerate(DEPLOYMENTS)
    ]
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump({"deployments": deployments}))
    return load_config(path)


def _frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": rng.normal(shift, 1.0, n), "c": rng.choice(["a", "b", "c", "d"][: 2 + int(shift)], n)}
    )


@pytest.mark.parametrize("read_hours", [drift.READ_HOURS, 1])
def test_many_deployments_scored_in_one_batch_equal_window_by_window(
    tmp_path, sqlite_url, monkeypatch, read_hours
) -> None:
    """Also with every deployment a read group of its own (a fleet's long backfill)."""
    groups = 1 if read_hours == drift.READ_HOURS else 3
    monkeypatch.setattr(drift, "READ_HOURS", read_hours)
    config, engine, rng = _config(tmp_path), get_engine(sqlite_url), np.random.default_rng(7)
    kinds = {"x": "numerical", "c": "categorical"}
    stored = {}
    for i, d in enumerate(DEPLOYMENTS):
        baseline = fit_baseline(_frame(1000, rng, 0.0), kinds, n_bins=12)
        write_profile(engine, d, DAY, baseline, is_baseline=True)
        hourly = {
            DAY + k * H: profile_frame(_frame(50 + 30 * k, rng, i * 0.8), baseline)
            for k in range(3)
        }
        for start, profile in hourly.items():
            write_profile(engine, d, start, profile, is_baseline=False, window_end=start + H)
        stored[d] = (baseline, hourly)
    run = [("fleet_a", DAY + H), ("fleet_b", DAY + H), ("fleet_b", DAY + 2 * H), ("fleet_c", DAY)]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, s, *a: statements.append(s))
    results = score_windows(config, engine, run)

    reads = [s for s in statements if s.lstrip().startswith("SELECT")]
    assert sum("FROM aggregates" in s for s in reads) == 2 * groups  # baselines, every hour
    assert sum("FROM calibration" in s for s in reads) == groups
    assert sum(s.startswith("BEGIN IMMEDIATE") for s in statements) == groups  # one write each
    assert {(r.deployment_id, r.granularity, r.start) for r in results} >= {
        ("fleet_a", "hour", DAY + H),
        ("fleet_b", "day", DAY),
        ("fleet_c", "week", DAY - 2 * 24 * H),
    }
    for r in results:
        baseline, hourly = stored[r.deployment_id]
        deployment = config.deployment(r.deployment_id)
        window = merge_window(hourly, r.start, r.end)
        assert r.rows == window.row_count
        assert_same(score_window(baseline, window, score_settings(config, deployment)), r.scores)
        rows = read_drift_scores(engine, r.deployment_id, r.start, r.start + H, r.granularity)
        assert len(rows) == sum(len(v) for v in r.scores.values())
    assert any(x.drifted for r in results for v in r.scores.values() for x in v)
