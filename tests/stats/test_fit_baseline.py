"""Fitting a baseline sorts each column once: same edges and values as numpy's unique and
quantile on the raw column, and the same baseline on any number of threads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats.binning import quantile_edges, sorted_distinct
from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.stats.profile import fit_numerical

RNG = np.random.default_rng(15)
SHAPES = {
    "normal": RNG.normal(0.0, 1.0, 5_000),
    "t2 with inf and nan": np.concatenate([RNG.standard_t(2.0, 5_000), [np.inf, -np.inf, np.nan]]),
    "signed zeros": np.where(RNG.random(3_000) < 0.5, -0.0, 0.0),
    "discrete": RNG.integers(0, 7, 4_000).astype(np.float64),
    "zero inflated": np.where(RNG.random(5_000) < 0.9, 0.0, RNG.lognormal(0.0, 2.0, 5_000)),
    "empty": np.array([np.nan, np.inf]),
}


def _numpy_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """The edges as numpy's own unique and quantile give them (the unsorted input)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([-np.inf, np.inf])
    distinct = np.unique(finite)
    if distinct.size <= n_bins:
        interior = np.append(distinct, np.nextafter(distinct[-1], np.inf))
    else:
        interior = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)))
        interior[-1] = np.nextafter(interior[-1], np.inf)
    return np.concatenate(([-np.inf], interior, [np.inf]))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n_bins", [1, 5, 40])
def test_edges_and_values_equal_numpys_unique_and_quantile(shape, n_bins):
    values = SHAPES[shape]
    np.testing.assert_array_equal(quantile_edges(values, n_bins), _numpy_edges(values, n_bins))
    fitted = fit_numerical(values, n_bins)
    np.testing.assert_array_equal(fitted.edges, _numpy_edges(values, n_bins))
    distinct = np.unique(values[np.isfinite(values)]) + 0.0
    if 0 < distinct.size <= n_bins:
        assert fitted.reference_values == tuple(distinct.tolist())
    else:
        assert fitted.values is None


def test_sorted_distinct_is_the_first_of_each_run():
    ordered = np.array([-1.0, -1.0, 0.5, 2.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(sorted_distinct(ordered), [-1.0, 0.5, 2.0, 3.0])
    assert sorted_distinct(np.array([])).size == 0


def test_baseline_on_threads_equals_the_one_thread_baseline():
    frame = pd.DataFrame(
        {name: values[:3_000] for name, values in SHAPES.items() if values.size >= 3_000}
        | {"c": RNG.choice(list("abcdefg"), 3_000)}
    )
    kinds = dict.fromkeys(frame.columns, "numerical") | {"c": "categorical"}
    one = fit_baseline(frame, kinds)
    two = fit_baseline(frame, kinds, threads=2)
    assert list(two.columns) == list(one.columns)
    for name, profile in one.columns.items():
        other = two.columns[name]
        if name == "c":
            assert (other.counts, other.other) == (profile.counts, profile.other)
        else:
            np.testing.assert_array_equal(other.edges, profile.edges)
            np.testing.assert_array_equal(other.counts, profile.counts)
            np.testing.assert_equal(
                (other.mean, other.m2, other.values), (profile.mean, profile.m2, profile.values)
            )
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        fit_baseline(frame, kinds, threads=0)
