"""Segments through the pipeline: the baseline stores each segment's reference rows, each hour
stores every segment in the same partition as the population, and the population's stored
profile equals that of the unsegmented pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import load_config
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.stats.dataset import profile_chunks
from monitoring_pipelines.stats.scoring import drifted_columns
from monitoring_pipelines.store.aggregates import (
    read_baseline,
    read_segment_baselines,
    read_segment_windows,
    read_windows,
)
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine

HOUR = datetime(2026, 11, 4, 5, tzinfo=UTC)
H = timedelta(hours=1)


def _rows(rng: np.random.Generator, n: int, regions=("eu", "us", "apac")) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "purpose": rng.choice(["car", "home", "debt"], n),
            "region": rng.choice(regions, n),
            "channel": rng.choice(["web", "app"], n),
        }
    )


def _config(root: Path, reference: pd.DataFrame, segments: list) -> Path:
    reference.to_parquet(root / "reference.parquet")
    deployment = {
        "id": "seg_model",
        "reference": {"path": str(root / "reference.parquet")},
        "logs": {"type": "parquet", "path": str(root / "logs"), "timestamp_column": "ts"},
        "start": HOUR.isoformat(),
        "columns": [
            {"name": "ts", "role": "timestamp"},
            {"name": "income", "type": "numerical"},
            {"name": "purpose", "type": "categorical"},
            {"name": "region", "type": "categorical"},
            {"name": "channel", "role": "segment"},
        ],
        "segments": segments,
    }
    path = root / "monitors.yaml"
    path.write_text(yaml.safe_dump({"deployments": [deployment]}))
    return path


def _write_hour(root: Path, hour: datetime, frame: pd.DataFrame, rng) -> None:
    folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    stamps = hour + pd.to_timedelta(rng.uniform(0, 3599, len(frame)), unit="s")
    frame.assign(ts=stamps).to_parquet(folder / "part-0.parquet")


def test_every_segment_is_stored_with_its_hour(tmp_path, empty_store_url):
    rng = np.random.default_rng(3)
    reference = _rows(rng, 6_000, regions=("eu", "us"))  # apac is new in production
    config = load_config(_config(tmp_path, reference, ["region", ["region", "channel"]]))
    engine = get_engine(empty_store_url)
    compute_baseline(config, config.deployment("seg_model"), engine)
    baselines = read_segment_baselines(engine, "seg_model")
    assert "region=apac" not in baselines
    assert baselines["region=eu"].row_count == (reference.region == "eu").sum()
    assert "region=eu,channel=web" in baselines

    hour = _rows(rng, 4_000)
    _write_hour(tmp_path, HOUR, hour, rng)
    [summary] = aggregate_windows(config, engine, [("seg_model", HOUR)])
    assert summary.segment_rows["region=apac"] == (hour.region == "apac").sum()
    assert summary.segment_notices == []
    population = read_baseline(engine, "seg_model")
    stored = read_windows(engine, "seg_model", HOUR, HOUR + H, population)[HOUR]
    expected = profile_chunks([hour.drop(columns="channel")], population)
    np.testing.assert_array_equal(
        stored.columns["income"].counts, expected.columns["income"].counts
    )
    assert stored.columns["income"].mean == pytest.approx(hour.income.mean(), rel=1e-12)
    assert stored.columns["purpose"].counts == expected.columns["purpose"].counts
    segments = read_segment_windows(engine, "seg_model", HOUR, HOUR + H, population)[HOUR]
    assert sorted(n for n in segments if "," not in n) == ["region=apac", "region=eu", "region=us"]
    apac = hour[hour.region == "apac"]
    assert segments["region=apac"].columns["income"].mean == pytest.approx(
        apac.income.mean(), rel=1e-12
    )
    pairs = [n for n in segments if "," in n]
    assert len(pairs) == 6
    assert sum(segments[n].row_count for n in pairs) == len(hour)


def test_each_segment_is_scored_against_its_own_reference_rows(tmp_path, empty_store_url):
    """eu's income drifts while us and the population stay near; apac, absent at training,
    is scored against the whole reference, flagged new, and moves ``segment_share``."""
    rng = np.random.default_rng(8)
    reference = _rows(rng, 8_000, regions=("eu", "us"))
    reference.loc[reference.region == "us", "income"] *= 3  # segments differ at training
    config = load_config(_config(tmp_path, reference, ["region"]))
    engine = get_engine(empty_store_url)
    compute_baseline(config, config.deployment("seg_model"), engine)
    hour = _rows(rng, 6_000, regions=("eu", "us", "apac"))
    hour.loc[hour.region == "us", "income"] *= 3
    eu = hour.region == "eu"
    hour.loc[eu, "income"] *= 1.6
    _write_hour(tmp_path, HOUR, hour, rng)
    aggregate_windows(config, engine, [("seg_model", HOUR)])
    [scores] = [
        s for s in score_windows(config, engine, [("seg_model", HOUR)]) if s.granularity == "hour"
    ]
    assert sorted(scores.segments) == ["region=apac", "region=eu", "region=us"]
    drifted = {s: "income" in drifted_columns(r) for s, r in scores.segments.items()}
    assert drifted["region=eu"] and not drifted["region=us"]
    [psi] = [r for r in scores.segments["region=us"]["income"] if r.metric == "psi"]
    assert psi.detail["baseline"] == "segment" and psi.value < 0.1  # its own rows: tripled too
    [apac] = [r for r in scores.segments["region=apac"]["income"] if r.metric == "psi"]
    assert apac.detail["baseline"] == "population" and apac.detail["new_segment"] is True
    [share] = [r for r in scores.scores["region"] if r.metric == "segment_share"]
    shares = hour.region.value_counts(normalize=True)
    ref_shares = reference.region.value_counts(normalize=True)
    expected = 0.5 * sum(abs(shares.get(r, 0) - ref_shares.get(r, 0)) for r in ("eu", "us", "apac"))
    assert share.value == pytest.approx(expected, abs=1e-12) and share.drifted
    assert share.detail["new_segments"] == ["region=apac"]
    stored = read_drift_scores(engine, "seg_model", HOUR, HOUR + H, "hour", segment=None)
    assert {r["segment"] for r in stored} == {"__all__", "region=apac", "region=eu", "region=us"}
    [row] = [
        r
        for r in stored
        if r["segment"] == "region=eu" and r["column_name"] == "income" and r["metric"] == "psi"
    ]
    assert row["drifted"]
    midnight = HOUR.replace(hour=0)
    days = read_drift_scores(
        engine, "seg_model", midnight, midnight + H, "day", segment="region=eu"
    )
    assert days and all(r["segment"] == "region=eu" for r in days)


def test_a_retraining_keeps_the_segments_older_hours_out_of_the_new_windows(
    tmp_path, empty_store_url
):
    """After a new baseline version (other bin edges), a segment's day window merges only the
    hours counted on the new edges, as the population's does, instead of failing to merge."""
    rng = np.random.default_rng(11)
    path = _config(tmp_path, _rows(rng, 6_000), ["region"])
    config = load_config(path)
    deployment = config.deployment("seg_model")
    engine = get_engine(empty_store_url)
    compute_baseline(config, deployment, engine)
    _write_hour(tmp_path, HOUR, _rows(rng, 3_000), rng)
    aggregate_windows(config, engine, [("seg_model", HOUR)])
    score_windows(config, engine, [("seg_model", HOUR)])

    retrained = _rows(rng, 6_000)
    retrained["income"] *= 1.3  # the new reference: other quantile edges
    retrained.to_parquet(tmp_path / "reference.parquet")
    compute_baseline(config, deployment, engine)
    later = _rows(rng, 3_000)
    later["income"] *= 1.3
    _write_hour(tmp_path, HOUR + H, later, rng)
    aggregate_windows(config, engine, [("seg_model", HOUR + H)])
    scored = score_windows(config, engine, [("seg_model", HOUR + H)])
    [day] = [s for s in scored if s.granularity == "day"]
    eu = int((later.region == "eu").sum())
    [psi] = [r for r in day.segments["region=eu"]["income"] if r.metric == "psi"]
    assert psi.current_size == eu  # the new version's hour only
    [population] = [r for r in day.scores["income"] if r.metric == "psi"]
    assert population.current_size == len(later)
    assert not psi.drifted and not population.drifted
