"""Multivariate drift through the pipeline: the model stored with the baseline, each hour's
reconstruction errors stored as ``__multivariate__`` aggregates, the day merged from the
hours, and the correlation-only change scored in ``drift_scores`` on ``__multivariate__``
alone; a reference with nothing to fit stores the reason and scores as before."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import load_config
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.multivariate import read_model

DAY = datetime(2026, 11, 4, 0, tzinfo=UTC)
H = timedelta(hours=1)
CHANGED = DAY + 2 * H  # a and b no longer move together in this hour
EMPTY = DAY + 3 * H  # an hour with a file of zero rows


def _rows(rng: np.random.Generator, n: int, decorrelate: bool = False) -> pd.DataFrame:
    a = rng.normal(size=n)
    b = 0.9 * a + math.sqrt(1 - 0.81) * rng.normal(size=n)
    if decorrelate:
        b = rng.permutation(b)
    c = rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": rng.gamma(2.0, size=n)})


def _write_hour(root: Path, hour: datetime, frame: pd.DataFrame, rng) -> None:
    folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    stamps = hour + pd.to_timedelta(rng.uniform(0, 3599, len(frame)), unit="s")
    frame.assign(ts=stamps).to_parquet(folder / "part-0.parquet")


def _config(root: Path, reference: pd.DataFrame, columns: list[dict]) -> Path:
    reference.to_parquet(root / "reference.parquet")
    path = root / "monitors.yaml"
    deployment = {
        "id": "mv_model",
        "reference": {"path": str(root / "reference.parquet")},
        "logs": {"type": "parquet", "path": str(root / "logs"), "timestamp_column": "ts"},
        "start": DAY.isoformat(),
        "columns": [{"name": "ts", "role": "timestamp"}, *columns],
        "drift": {"granularities": ["hour", "day"], "min_rows": 300},
    }
    path.write_text(yaml.safe_dump({"deployments": [deployment]}))
    return path


COLUMNS = [
    {"name": "a", "type": "numerical"},
    {"name": "b", "type": "numerical"},
    {"name": "c", "type": "categorical"},
    {"name": "d", "type": "numerical"},
]


@pytest.fixture
def hours(tmp_path: Path, empty_store_url: str):
    rng = np.random.default_rng(21)
    config = load_config(_config(tmp_path, _rows(rng, 20_000), COLUMNS))
    engine = get_engine(empty_store_url)
    compute_baseline(config, config.deployment("mv_model"), engine)
    frames = {DAY + h * H: _rows(rng, 3_000, DAY + h * H == CHANGED) for h in range(3)}
    frames[EMPTY] = _rows(rng, 0)
    for hour, frame in frames.items():
        _write_hour(tmp_path, hour, frame, rng)
    windows = [("mv_model", hour) for hour in frames]
    aggregate_windows(config, engine, windows)
    score_windows(config, engine, windows)
    return config, engine, frames


def _drifted(engine, start: datetime, granularity: str = "hour") -> dict[str, list[str]]:
    rows = read_drift_scores(engine, "mv_model", start, start + H, granularity)
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["column_name"], [])
        if row["drifted"]:
            out[row["column_name"]].append(row["metric"])
    return out


def test_the_model_is_stored_with_the_baseline(hours):
    _, engine, _ = hours
    model, reason = read_model(engine, "mv_model")
    assert reason is None and model.names == ["a", "b", "c", "d"]
    baseline = read_baseline(engine, "mv_model")
    assert MULTIVARIATE not in baseline.columns
    assert baseline.multivariate is not None and baseline.multivariate.n_finite == 10_000


def test_each_hour_stores_its_errors_and_the_day_merges_them(hours):
    _, engine, frames = hours
    model, _ = read_model(engine, "mv_model")
    baseline = read_baseline(engine, "mv_model")
    stored = read_windows(engine, "mv_model", DAY, DAY + 24 * H, baseline)
    for hour, frame in frames.items():
        errors = model.errors(frame)
        profile = stored[hour].multivariate
        assert profile.n_finite == len(frame)
        np.testing.assert_array_equal(profile.counts, baseline.multivariate.like(errors).counts)
        if len(frame):
            assert profile.mean == pytest.approx(errors.mean(), rel=1e-12)
    union = model.errors(pd.concat(frames.values()))
    day = read_drift_scores(engine, "mv_model", DAY, DAY + H, "day")
    (result,) = [r for r in day if r["column_name"] == MULTIVARIATE]
    assert result["current_size"] == union.size == 9_000
    assert result["detail"]["mean_error"] == pytest.approx(union.mean(), rel=1e-12)


def test_the_correlation_change_drifts_on_multivariate_only(hours):
    _, engine, _ = hours
    changed = _drifted(engine, CHANGED)
    assert changed.pop(MULTIVARIATE) == ["reconstruction_error"]
    assert all(not metrics for metrics in changed.values()), changed
    for clean in (DAY, DAY + H):
        assert not any(_drifted(engine, clean).values())
    rows = read_drift_scores(engine, "mv_model", EMPTY, EMPTY + H, "hour")
    (empty,) = [r for r in rows if r["column_name"] == MULTIVARIATE]
    assert empty["status"] == "insufficient_data" and empty["current_size"] == 0


def test_a_reference_without_two_varying_features_stores_why(tmp_path, empty_store_url):
    rng = np.random.default_rng(22)
    reference = pd.DataFrame({"a": rng.normal(size=500), "k": 1.0})
    columns = [{"name": "a", "type": "numerical"}, {"name": "k", "type": "numerical"}]
    config = load_config(_config(tmp_path, reference, columns))
    engine = get_engine(empty_store_url)
    compute_baseline(config, config.deployment("mv_model"), engine)
    model, reason = read_model(engine, "mv_model")
    assert model is None and "'k': 'constant'" in reason
    assert read_baseline(engine, "mv_model").multivariate is None
    _write_hour(tmp_path, DAY, reference.iloc[:400], rng)
    aggregate_windows(config, engine, [("mv_model", DAY)])
    score_windows(config, engine, [("mv_model", DAY)])
    assert set(_drifted(engine, DAY)) == {"a", "k"}
