"""Quantiles of sorted values equal numpy's ``np.quantile`` bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from monitoring_pipelines.stats.binning import quantile_edges, sorted_quantiles


def shapes(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """The benchmark battery's shapes, signed zeros and one repeated value."""
    zeros = np.where(rng.random(n) < 0.5, -0.0, 0.0)
    return [
        rng.normal(size=n),
        rng.lognormal(0.0, 2.0, n),
        rng.standard_t(2, n) * 1e9,
        rng.integers(0, 5, n).astype(np.float64),
        np.where(rng.random(n) < 0.9, 0.0, rng.normal(size=n)),
        np.concatenate((zeros, rng.normal(size=n))),
        np.full(n, 3.25),
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 40, 41, 1000, 100_003])
@pytest.mark.parametrize("n_bins", [1, 3, 10, 40])
def test_equals_numpy_on_each_shape(n, n_bins):
    rng = np.random.default_rng(n * 100 + n_bins)
    q = np.linspace(0.0, 1.0, n_bins + 1)
    for values in shapes(rng, n):
        ordered = np.sort(values)
        assert sorted_quantiles(ordered, q).tobytes() == np.quantile(ordered, q).tobytes()


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e300, 1e300, width=64)),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50),
)
def test_equals_numpy_on_any_values_and_levels(values, levels):
    ordered, q = np.sort(values), np.array(levels)
    assert sorted_quantiles(ordered, q).tobytes() == np.quantile(ordered, q).tobytes()


def test_edges_are_numpys_quantiles():
    values = np.random.default_rng(1).lognormal(0.0, 1.0, 5000)
    expected = np.unique(np.quantile(values, np.linspace(0.0, 1.0, 41)))
    expected[-1] = np.nextafter(expected[-1], np.inf)
    assert quantile_edges(values, 40)[1:-1].tobytes() == expected.tobytes()
