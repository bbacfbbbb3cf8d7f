"""The sort-based counting of profile_numerical agrees with per-value bin lookup and numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring_pipelines.stats.binning import bin_index, quantile_edges
from monitoring_pipelines.stats.profile import BLOCK, profile_numerical

special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0, 2.5])
values = st.lists(st.one_of(st.floats(-1e6, 1e6), special), max_size=200)


@settings(max_examples=200, deadline=None)
@given(values, values, st.integers(1, 12))
def test_counts_and_moments_match_an_independent_computation(reference, current, n_bins):
    edges = quantile_edges(np.array(reference, dtype=np.float64), n_bins)
    x = np.array(current, dtype=np.float64)
    profile = profile_numerical(x, edges)
    present = x[~np.isnan(x)]
    expected = np.bincount(bin_index(present, edges), minlength=edges.size - 1)
    np.testing.assert_array_equal(profile.counts, expected)
    finite = x[np.isfinite(x)]
    assert profile.missing == int(np.isnan(x).sum())
    assert profile.pos_inf == int((x == np.inf).sum())
    assert profile.neg_inf == int((x == -np.inf).sum())
    assert profile.n_finite == finite.size
    if finite.size:
        assert profile.min == finite.min() and profile.max == finite.max()
        np.testing.assert_allclose(profile.mean, finite.mean(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(profile.std, finite.std(), rtol=1e-7, atol=1e-6)


def test_values_on_an_edge_fall_in_the_bin_that_starts_there():
    edges = np.array([-np.inf, 0.0, 1.0, 2.0, np.inf])
    profile = profile_numerical(np.array([-1.0, 0.0, 0.5, 1.0, 1.0, 2.0, 3.0, np.nan]), edges)
    assert profile.counts.tolist() == [1, 2, 2, 2]
    assert profile.missing == 1


def test_invalid_strings_are_not_missing():
    edges = np.array([-np.inf, 0.0, np.inf])
    profile = profile_numerical(np.array(["1", "x", None, "-2"], dtype=object), edges)
    assert (profile.counts.tolist(), profile.invalid, profile.missing) == ([1, 1], 1, 1)


def test_columns_longer_than_a_block_are_counted_exactly():
    rng = np.random.default_rng(7)
    x = rng.lognormal(size=int(2.5 * BLOCK))
    x[rng.random(x.size) < 0.01] = np.nan
    x[:3], x[-2:] = np.inf, -np.inf
    edges = quantile_edges(x[:10_000], 20)
    profile = profile_numerical(x, edges)
    present = x[~np.isnan(x)]
    expected = np.bincount(bin_index(present, edges), minlength=edges.size - 1)
    np.testing.assert_array_equal(profile.counts, expected)
    finite = x[np.isfinite(x)]
    assert (profile.pos_inf, profile.neg_inf, profile.n_finite) == (3, 2, finite.size)
    assert profile.missing == int(np.isnan(x).sum())
    assert (profile.min, profile.max) == (finite.min(), finite.max())
    np.testing.assert_allclose(profile.mean, finite.mean(), rtol=1e-12)
    np.testing.assert_allclose(profile.std, finite.std(), rtol=1e-10)
