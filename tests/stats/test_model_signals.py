"""Model signals from profiles: prediction drift, mean confidence, low-confidence share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from monitoring_pipelines.stats.binning import quantile_edges
from monitoring_pipelines.stats.model_signals import low_confidence_share, model_signals
from monitoring_pipelines.stats.profile import profile_categorical, profile_numerical

RNG = np.random.default_rng(4)


def test_prediction_drift_is_jensen_shannon_of_the_predicted_classes():
    base = profile_categorical(["no"] * 80 + ["yes"] * 20)
    current = profile_categorical(["no"] * 50 + ["yes"] * 50, ("no", "yes"))
    signals = model_signals(base, current, None, None)
    assert signals.prediction_drift.metric == "jensen_shannon"
    assert signals.prediction_drift.value == pytest.approx(
        jensenshannon([0.8, 0.2], [0.5, 0.5], base=2)
    )
    assert signals.mean_confidence is None and signals.confidence_drop is None


def test_confidence_mean_drop_and_low_share_against_the_raw_values():
    reference = RNG.beta(8, 2, 50_000)
    current = RNG.beta(4, 2, 5_000)
    edges = np.sort(np.append(quantile_edges(reference), 0.6))
    base, window = profile_numerical(reference, edges), profile_numerical(current, edges)
    signals = model_signals(None, None, base, window, low_confidence_threshold=0.6)
    assert signals.mean_confidence == pytest.approx(current.mean())
    assert signals.confidence_drop == pytest.approx(reference.mean() - current.mean())
    assert signals.low_confidence_share == pytest.approx(np.mean(current < 0.6), abs=1e-12)
    assert signals.baseline_low_confidence_share == pytest.approx(np.mean(reference < 0.6))


def test_low_confidence_share_between_edges_is_within_one_bin():
    reference = RNG.beta(8, 2, 50_000)
    current = RNG.beta(4, 2, 5_000)
    edges = quantile_edges(reference)
    window = profile_numerical(current, edges)
    largest_bin = window.counts.max() / window.counts.sum()
    for threshold in (0.3, 0.55, 0.77, 0.9):
        share = low_confidence_share(window, threshold)
        assert share == pytest.approx(np.mean(current < threshold), abs=largest_bin)
    assert low_confidence_share(profile_numerical(np.array([]), edges), 0.5) is None
