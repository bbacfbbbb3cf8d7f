"""Column profiles: counts equal numpy's, merges are exact, bad values are counted as specified."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring_pipelines.stats.binning import quantile_edges
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks, profile_frame
from monitoring_pipelines.stats.profile import (
    OTHER,
    NumericalProfile,
    fold_rank,
    profile_categorical,
    profile_numerical,
    to_float,
)

RNG = np.random.default_rng(7)


def test_bin_counts_equal_numpy_histogram_on_the_same_edges():
    reference = RNG.normal(50, 10, 10_000)
    edges = quantile_edges(reference, 20)
    current = RNG.normal(55, 12, 5_000)
    profile = profile_numerical(current, edges)
    # numpy's histogram closes its last bin; our bins are [a, b), so compare on finite inner edges
    inner = edges[1:-1]
    expected_inner, _ = np.histogram(current, bins=inner)
    expected_inner[-1] -= np.count_nonzero(current == inner[-1])
    assert profile.counts[0] == np.count_nonzero(current < inner[0])
    assert profile.counts[-1] == np.count_nonzero(current >= inner[-1])
    np.testing.assert_array_equal(profile.counts[1:-1], expected_inner)
    assert profile.counts.sum() == current.size


def test_quantile_edges_are_open_ended_and_hold_the_baseline_in_regular_bins():
    reference = RNG.uniform(0, 1, 1000)
    edges = quantile_edges(reference, 10)
    assert edges[0] == -np.inf and edges[-1] == np.inf
    assert edges.size == 13  # 11 quantiles + 2 open ends
    profile = profile_numerical(reference, edges)
    assert profile.counts[0] == 0 and profile.counts[-1] == 0
    assert np.all(profile.counts[1:-1] == 100)


def test_discrete_data_collapses_duplicate_edges():
    reference = RNG.integers(0, 4, 1000).astype(float)
    edges = quantile_edges(reference, 20)
    assert edges.size == 4 + 1 + 2  # the values 0..3, one edge just above 3, two infinities
    profile = profile_numerical(reference, edges)
    np.testing.assert_array_equal(profile.counts[1:-1], np.bincount(reference.astype(int)))


def test_bad_values_are_counted_not_dropped():
    edges = quantile_edges(np.arange(100.0), 4)
    values = pd.Series([1.0, None, np.nan, np.inf, -np.inf, "abc", "7", 3, "", 200], dtype=object)
    p = profile_numerical(values, edges)
    assert p.missing == 2
    assert p.invalid == 2  # "abc" and ""
    assert p.pos_inf == 1 and p.neg_inf == 1
    assert p.n_finite == 4  # 1, "7", 3, 200
    assert p.counts[0] == 1 and p.counts[-1] == 2  # -inf; +inf and 200 beyond the range
    assert p.rows == values.size
    assert p.mean == pytest.approx(np.mean([1, 7, 3, 200]))
    assert p.min == 1 and p.max == 200


def test_categories_beyond_the_cap_fold_into_other_with_their_count():
    reference = pd.Series(["a"] * 5 + ["b"] * 3)
    base = profile_categorical(reference)
    current = pd.Series(["a", "b", "c", "c", "c", "d", "d", "e", None, np.nan])
    p = profile_categorical(current, tuple(base.counts), max_categories=2)
    kept = sorted(["c", "d", "e"], key=fold_rank)[:2]  # the cap keeps by a fixed hash order
    true = {"a": 1, "b": 1, "c": 3, "d": 2, "e": 1}
    assert p.counts == {v: true[v] for v in ["a", "b", *kept]}
    assert p.other == sum(true[v] for v in ["c", "d", "e"] if v not in kept) and p.missing == 2
    assert p.count + p.missing == current.size
    assert sorted(p.new_categories) == sorted(kept)


def test_baseline_categories_stay_visible_with_zero_counts():
    p = profile_categorical(pd.Series(["x"]), ("x", "y"))
    assert p.counts == {"x": 1, "y": 0}


def test_integral_floats_and_ints_share_a_category():
    p = profile_categorical(pd.Series([1, 1.0, 2.5, "1"], dtype=object))
    assert p.counts == {"1": 3, "2.5": 1}


def _split_points(n: int, cuts: list[int]) -> list[int]:
    return sorted({min(c, n) for c in cuts} | {0, n})


numbers = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.just(float("nan")),
    st.just(float("inf")),
    st.just(5.0),
)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(numbers, max_size=60),
    categories=st.lists(st.sampled_from(["a", "b", "c", "d", None]), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
)
def test_merge_of_parts_equals_profile_of_whole(values, categories, cuts):
    n = min(len(values), len(categories))
    frame = pd.DataFrame({"x": values[:n], "c": pd.Series(categories[:n], dtype=object)})
    reference = fit_baseline(
        pd.DataFrame({"x": [0.0, 1.0, 2.0, 5.0, 9.0], "c": ["a", "b", "b", "a", "a"]}),
        {"x": "numerical", "c": "categorical"},
        n_bins=3,
    )
    points = _split_points(n, cuts)
    parts = [frame.iloc[a:b] for a, b in itertools.pairwise(points)]
    merged = profile_chunks(parts, reference)
    whole = profile_frame(frame, reference)
    mx, wx = merged.columns["x"], whole.columns["x"]
    assert isinstance(mx, NumericalProfile)
    np.testing.assert_array_equal(mx.counts, wx.counts)
    assert (mx.missing, mx.pos_inf, mx.neg_inf, mx.n_finite) == (
        wx.missing,
        wx.pos_inf,
        wx.neg_inf,
        wx.n_finite,
    )
    finite = np.asarray([v for v in values[:n] if np.isfinite(v)])
    if finite.size:
        assert mx.mean == pytest.approx(finite.mean(), rel=1e-9, abs=1e-6)
        assert mx.std == pytest.approx(finite.std(), rel=1e-9, abs=1e-6)
        assert (mx.min, mx.max) == (finite.min(), finite.max())
    else:
        assert np.isnan(mx.mean) and np.isnan(mx.min)
    assert merged.columns["c"].counts == whole.columns["c"].counts
    assert merged.columns["c"].missing == whole.columns["c"].missing
    assert merged.row_count == n


def test_merged_moments_match_numpy_on_large_data():
    data = RNG.lognormal(10, 1.5, 200_000)
    edges = quantile_edges(data[:10_000])
    parts = np.array_split(data, 24)
    merged = profile_numerical(parts[0], edges)
    for part in parts[1:]:
        merged = merged.merge(profile_numerical(part, edges))
    assert merged.mean == pytest.approx(data.mean(), rel=1e-9)
    assert merged.std == pytest.approx(data.std(), rel=1e-9)


def test_all_missing_and_constant_columns():
    frame = pd.DataFrame({"x": [np.nan] * 5, "k": [3.0] * 5})
    reference = fit_baseline(
        pd.DataFrame({"x": [1.0, 2.0], "k": [3.0, 3.0]}), {"x": "numerical", "k": "numerical"}
    )
    p = profile_frame(frame, reference)
    assert p.columns["x"].missing == 5 and p.columns["x"].count == 0
    assert np.isnan(p.columns["x"].std)
    assert p.columns["k"].std == 0.0 and p.columns["k"].counts.sum() == 5


def test_missing_and_extra_columns_are_reported():
    reference = fit_baseline(pd.DataFrame({"x": [1.0, 2.0]}), {"x": "numerical"})
    p = profile_frame(pd.DataFrame({"y": [1, 2, 3]}), reference)
    assert p.absent_columns == ("x",)
    assert p.extra_columns == ("y",)
    assert p.columns["x"].missing == 3


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="column 'x': unknown kind 'numeric'"):
        fit_baseline(pd.DataFrame({"x": [1.0]}), {"x": "numeric"})


def test_merging_profiles_on_different_edges_is_refused():
    a = profile_numerical(np.arange(3.0), quantile_edges(np.arange(10.0), 2))
    b = profile_numerical(np.arange(3.0), quantile_edges(np.arange(10.0), 3))
    with pytest.raises(ValueError, match="different bin edges"):
        a.merge(b)


def test_stats_does_not_import_dagster():
    import subprocess
    import sys

    code = "import monitoring_pipelines.stats.dataset, sys; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_other_bucket_name_is_reserved_constant():
    assert OTHER == "__other__"


def test_numeric_arrays_are_read_in_place_and_as_their_series_would_be():
    floats = np.array([1.5, np.nan, -np.inf, 0.0])
    x, invalid = to_float(floats)
    assert np.shares_memory(x, floats) and invalid == 0  # no copy of a float64 column
    for values in (floats, np.array([3, -1, 0]), np.array([True, False]), floats.astype("f4")):
        x, invalid = to_float(values)
        expected, _ = to_float(pd.Series(values))
        assert x.dtype == np.float64 and invalid == 0
        np.testing.assert_array_equal(x, expected)
