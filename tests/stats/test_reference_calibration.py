"""Calibrated thresholds against a production reference of m rows: the training noise curve
read at the two-sample effective size keeps false alarms rare where reading it at the window's
size would not, and a real shift is still caught (fixed seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats.calibration import calibrate, effective_size
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import Kind
from monitoring_pipelines.stats.scoring import score_window

METRICS = {"x": ["psi", "wasserstein"]}
TRIALS = 200


def test_effective_size_adds_the_reference_noise():
    # 1/s = 1/n + 1/m - 1/h: 1/1000 + 1/500 - 1/10000
    assert effective_size(1000, 500, 10_000) == pytest.approx(1 / (0.001 + 0.002 - 0.0001))
    assert effective_size(1000, 20_000, 10_000) == 1000  # a reference larger than the curve's
    assert effective_size(1000, 500, 10_000) < effective_size(1000, 5000, 10_000) < 1000


@pytest.fixture(scope="module")
def heavy_tailed():
    """A Student t(2) column: 40k training rows, its baseline and noise curves."""
    rng = np.random.default_rng(5)
    training = pd.DataFrame({"x": rng.standard_t(2, 40_000)})
    baseline = fit_baseline(training, {"x": Kind.NUMERICAL})
    return baseline, calibrate(training, baseline, METRICS, rng=rng)


def _alarm_rate(heavy_tailed, reference_rows, window_rows, shift, calibrated_on, seed):
    baseline, curves = heavy_tailed
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(TRIALS):
        reference = profile_frame(pd.DataFrame({"x": rng.standard_t(2, reference_rows)}), baseline)
        window = pd.DataFrame({"x": rng.standard_t(2, window_rows) + shift})
        scores = score_window(
            reference,
            profile_frame(window, baseline),
            metrics=METRICS,
            calibration=curves,
            min_rows=1,
            calibrated_on=baseline if calibrated_on else None,
        )
        alarms += any(r.drifted for r in scores["x"])
    return alarms / TRIALS


def test_a_small_production_reference_does_not_raise_false_alarms(heavy_tailed):
    # 500 reference rows against 20,000-row windows of the same distribution
    assert _alarm_rate(heavy_tailed, 500, 20_000, 0.0, calibrated_on=True, seed=1) <= 0.02
    # the curve read at the window's size ignores the reference's noise: many false alarms
    assert _alarm_rate(heavy_tailed, 500, 20_000, 0.0, calibrated_on=False, seed=1) >= 0.08


def test_a_shift_is_still_detected_against_a_production_reference(heavy_tailed):
    assert _alarm_rate(heavy_tailed, 2000, 2000, 0.5, calibrated_on=True, seed=2) >= 0.95
