"""Issue 10, item 6: drift against production references, scored from stored hours.

Two weeks of logs where week 2's first hours repeat week 1's rows exactly. Each window is
scored against training, the same hours last week, the previous day (psi on x only) and the
fixed launch window; the rows sit side by side in drift_scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import load_config
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_settings, score_windows
from monitoring_pipelines.stats.dataset import profile_frame
from monitoring_pipelines.stats.scoring import score_window
from monitoring_pipelines.store.aggregates import read_baseline
from monitoring_pipelines.store.calibration import read_calibration
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine

WEEK1 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
WEEK2 = WEEK1 + timedelta(days=7)
H = timedelta(hours=1)
HOURS = 4
LAUNCH = (WEEK1, WEEK1 + HOURS * H)


def _hour_frame(hour: datetime, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = 600 + 50 * seed
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, rows),
            "c": rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2]),
            "ts": hour + pd.to_timedelta(rng.uniform(0, 3599, rows), unit="s"),
        }
    )


def _write(root: Path, frame: pd.DataFrame, hour: datetime) -> None:
    folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "part-0.parquet")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Week 1 hours 0-3 and week 2 hours 0-3 with the same rows (the ts a week later), the
    week-2 hour 3 shifted by one σ; all stored and scored."""
    root = tmp_path_factory.mktemp("references")
    rng = np.random.default_rng(10)
    pd.DataFrame(
        {"x": rng.normal(0, 1, 20_000), "c": rng.choice(["a", "b", "c"], 20_000, p=[0.5, 0.3, 0.2])}
    ).to_parquet(root / "reference.parquet")
    raw = {}
    for h in range(HOURS):
        first = _hour_frame(WEEK1 + h * H, h)
        second = first.assign(ts=first["ts"] + timedelta(days=7))
        if h == 3:
            second = second.assign(x=second["x"] + 1.0)
        raw[WEEK1 + h * H], raw[WEEK2 + h * H] = first, second
    for hour, frame in raw.items():
        _write(root, frame, hour)
    config_path = root / "monitors.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"n_bins": 10, "min_rows": 100},
                "deployments": [
                    {
                        "id": "ref_model",
                        "reference": {"path": str(root / "reference.parquet")},
                        "logs": {
                            "type": "parquet",
                            "path": str(root / "logs"),
                            "timestamp_column": "ts",
                        },
                        "start": WEEK1.isoformat(),
                        "columns": [
                            {"name": "ts", "role": "timestamp"},
                            {"name": "x", "type": "numerical"},
                            {"name": "c", "type": "categorical"},
                        ],
                        "drift": {
                            "granularities": ["hour", "day"],
                            "references": [
                                "training",
                                "last_week",
                                {"kind": "previous_day", "columns": ["x"], "metrics": ["psi"]},
                                {
                                    "kind": "window",
                                    "name": "launch",
                                    "start": LAUNCH[0].isoformat(),
                                    "end": LAUNCH[1].isoformat(),
                                },
                            ],
                        },
                    }
                ],
            }
        )
    )
    config = load_config(config_path)
    engine = get_engine(f"sqlite:///{root / 'monitoring.db'}")
    compute_baseline(config, config.deployment("ref_model"), engine)
    windows = [("ref_model", hour) for hour in raw]
    aggregate_windows(config, engine, windows)
    results = score_windows(config, engine, windows)
    return config, engine, raw, results


def _rows(engine, start: datetime, granularity: str = "hour") -> list[dict]:
    return read_drift_scores(engine, "ref_model", start, start + H, granularity, None)


def _by_key(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    return {(r["reference"], r["column_name"], r["metric"]): r for r in rows}


def test_every_reference_is_stored_beside_training(scored):
    _, engine, _, _ = scored
    rows = _by_key(_rows(engine, WEEK2 + H))
    training = {(c, m) for ref, c, m in rows if ref == "training"}
    assert training == {
        ("x", "psi"),
        ("x", "wasserstein"),
        ("x", "z_score"),
        ("x", "missing_rate"),
        ("c", "psi"),
        ("c", "tvd"),
        ("c", "missing_rate"),
    }
    assert {(c, m) for ref, c, m in rows if ref == "last_week"} == training
    assert {(c, m) for ref, c, m in rows if ref == "launch"} == training
    assert {(c, m) for ref, c, m in rows if ref == "previous_day"} == {("x", "psi")}  # its scope
    assert len(rows) == len(_rows(engine, WEEK2 + H))  # one row per (reference, column, metric)
    # the default reader (status, reports, retraining) keeps to training
    plain = read_drift_scores(engine, "ref_model", WEEK2 + H, WEEK2 + 2 * H, "hour")
    assert {r["reference"] for r in plain} == {"training"}


def test_a_production_reference_equals_profiling_the_union_of_its_hours(scored):
    config, engine, raw, _ = scored
    deployment = config.deployment("ref_model")
    baseline = read_baseline(engine, "ref_model")
    calibration = read_calibration(engine, "ref_model")
    union = pd.concat([raw[LAUNCH[0] + h * H] for h in range(HOURS)], ignore_index=True)
    reference = profile_frame(union.drop(columns="ts"), baseline)
    current = profile_frame(raw[WEEK2 + 3 * H].drop(columns="ts"), baseline)
    expected = score_window(
        reference,
        current,
        score_settings(config, deployment),
        calibration=calibration,
        calibrated_on=baseline,
    )
    stored = _by_key(_rows(engine, WEEK2 + 3 * H))
    assert calibration  # the thresholds below are the calibrated, two-sample ones
    for column, results in expected.items():
        for result in results:
            row = stored[("launch", column, result.metric)]
            assert row["value"] == pytest.approx(result.value, abs=1e-9), (column, result.metric)
            assert row["threshold"] == pytest.approx(result.threshold, abs=1e-9)
            assert (row["reference_size"], row["current_size"]) == (
                result.reference_size,
                result.current_size,
            )
            assert row["drifted"] == result.drifted
    assert stored[("launch", "x", "wasserstein")]["drifted"]  # the shifted hour is caught
    assert stored[("launch", "x", "psi")]["reference_size"] == len(union)


def test_drift_against_an_identical_last_week_is_zero(scored):
    _, engine, raw, _ = scored
    for h in range(3):
        rows = _by_key(_rows(engine, WEEK2 + h * H))
        for (reference, column, metric), row in rows.items():
            if reference == "last_week":
                assert row["value"] == pytest.approx(0.0, abs=1e-12), (h, column, metric)
                assert not row["drifted"]
                assert row["reference_size"] == row["current_size"] == len(raw[WEEK1 + h * H])
        assert rows[("training", "x", "psi")]["value"] > 0  # against training, not zero
    shifted = _by_key(_rows(engine, WEEK2 + 3 * H))
    assert shifted[("last_week", "x", "wasserstein")]["drifted"]
    # the whole day against last week's day: the same rows but hour 3's shift
    day = _by_key(_rows(engine, WEEK2, "day"))
    assert day[("last_week", "c", "tvd")]["value"] == pytest.approx(0.0, abs=1e-12)
    assert day[("last_week", "x", "psi")]["value"] > 0


def test_thresholds_against_a_production_reference_count_its_noise(scored):
    _, engine, _, _ = scored
    rows = _by_key(_rows(engine, WEEK2 + 2 * H))
    training, last_week = rows[("training", "x", "wasserstein")], rows[("last_week", "x", "psi")]
    assert "noise_size" not in training["detail"]
    # 700 rows against 700: read the curve at 1 / (1/700 + 1/700 - 1/10000) ≈ 376 values
    expected = 1 / (1 / 700 + 1 / 700 - 1 / 10_000)
    assert last_week["detail"]["noise_size"] == pytest.approx(expected, rel=1e-9)
    assert rows[("last_week", "x", "wasserstein")]["threshold"] > training["threshold"]


def test_a_reference_without_stored_hours_is_insufficient_data_with_the_reason(scored):
    _, engine, _, results = scored
    rows = _by_key(_rows(engine, WEEK1 + 2 * H))
    last_week = {k: r for k, r in rows.items() if k[0] == "last_week"}
    assert len(last_week) == 7
    for row in last_week.values():
        assert row["status"] == "insufficient_data" and row["value"] is None
        assert row["reference_size"] == 0 and not row["drifted"]
        assert row["detail"]["reason"] == (
            "reference last_week (2026-10-26 02:00 to 03:00 UTC) holds 0 stored row(s), "
            "fewer than min_rows 100"
        )
    # previous_day of week 1 hour 2 holds hours 0-1 of the same day: enough rows to score
    assert rows[("previous_day", "x", "psi")]["reference_size"] == 600 + 650
    # the scored windows carry every reference for the asset and sensor
    [hour] = [s for s in results if s.granularity == "hour" and s.start == WEEK1 + 2 * H]
    assert set(hour.references) == {"last_week", "previous_day", "launch"}
