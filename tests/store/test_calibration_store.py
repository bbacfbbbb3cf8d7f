"""The ``calibration`` table: noise curves round-trip exactly and are replaced with the baseline;
the demo's baseline is calibrated and its hours are judged on the calibrated thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitoring_pipelines.stats.calibration import NoiseCurve
from monitoring_pipelines.store.calibration import read_calibration, write_calibration
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import DEMO_END, DEMO_HOURS


def test_curves_round_trip_and_a_new_baseline_replaces_them(empty_store_url):
    engine = get_engine(empty_store_url)
    first = {
        "income": {"psi": NoiseCurve((100.0, 1000.0), (0.31, 0.031), (0.1, 0.01))},
        "region": {"tvd": NoiseCurve((100.0,), (0.2,), (0.05,))},
    }
    assert write_calibration(engine, "credit_risk", first) == 2
    write_calibration(engine, "other", {"x": {"psi": NoiseCurve((5.0,), (1.0,), (0.0,))}})
    assert read_calibration(engine, "credit_risk") == first
    second = {"income": {"wasserstein": NoiseCurve((300.0,), (0.07,), (0.02,))}}
    write_calibration(engine, "credit_risk", second)
    assert read_calibration(engine, "credit_risk") == second
    assert set(read_calibration(engine, "other")) == {"x"}
    assert read_calibration(engine, "nobody") == {}


def test_the_demo_judges_its_distances_on_calibrated_thresholds(demo_run):
    engine = get_engine(f"sqlite:///{demo_run.home / 'monitoring.db'}")
    curves = read_calibration(engine, "credit_risk")
    assert curves and all(curves.values())
    rows = read_drift_scores(
        engine, "credit_risk", DEMO_END - timedelta(hours=DEMO_HOURS), DEMO_END, "hour"
    )
    calibrated = [r for r in rows if r["metric"] in curves.get(r["column_name"], {})]
    assert calibrated
    for row in calibrated:
        detail = row["detail"]
        noise = curves[row["column_name"]][row["metric"]].threshold(row["current_size"])
        assert detail["noise_threshold"] == pytest.approx(noise)
        assert row["threshold"] == pytest.approx(max(detail["threshold_floor"], noise))
