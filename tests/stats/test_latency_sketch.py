"""Latency percentiles from merged hourly sketches against numpy on the raw day."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring_pipelines.stats.latency_sketch import LatencySketch

RNG = np.random.default_rng(95)
QUANTILES = (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)


def a_day() -> list[np.ndarray]:
    """24 hours of latencies: lognormal body, a slow tail, some zeros, a NaN."""
    hours = []
    for hour in range(24):
        n = int(RNG.integers(200, 3_000))
        values = RNG.lognormal(3 + 0.02 * hour, 0.6, size=n)
        values[RNG.uniform(size=n) < 0.02] *= 40
        values[:3] = 0.0
        values[3] = np.nan
        hours.append(values)
    return hours


@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_merged_hours_within_the_bound_of_numpy_on_the_day(alpha):
    hours = a_day()
    day = np.concatenate(hours)
    merged = LatencySketch(alpha)
    for values in hours:
        merged = merged.merge(LatencySketch.from_values(values, alpha))
    whole = LatencySketch.from_values(day, alpha)
    assert merged == whole  # merging hours loses nothing
    finite = day[np.isfinite(day)]
    assert merged.count == finite.size
    for q in QUANTILES:
        exact = np.percentile(finite, 100 * q, method="lower")
        assert merged.quantile(q) == pytest.approx(exact, rel=alpha, abs=1e-12)


def test_the_bound_is_tight_not_loose():
    values = RNG.lognormal(3, 1, size=20_000)
    sketch = LatencySketch.from_values(values, 0.01)
    errors = [
        abs(sketch.quantile(q) / np.percentile(values, 100 * q, method="lower") - 1)
        for q in np.linspace(0.01, 0.99, 99)
    ]
    assert max(errors) <= 0.01
    assert max(errors) > 0.005  # a coarser sketch would be caught


def test_empty_json_and_errors():
    assert LatencySketch().quantile(0.95) is None
    sketch = LatencySketch.from_values([1.5, 2.0, 300.0, 0.0])
    assert LatencySketch.from_json(sketch.to_json()) == sketch
    with pytest.raises(ValueError, match=r"latency must be >= 0, got -2\.0"):
        LatencySketch.from_values([1.0, -2.0])
    with pytest.raises(ValueError, match="cannot merge"):
        sketch.merge(LatencySketch(0.05))
    with pytest.raises(ValueError, match="quantile must be in"):
        sketch.quantile(95)
