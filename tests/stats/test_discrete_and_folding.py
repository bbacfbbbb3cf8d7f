"""Discrete numerical columns counted exactly (metrics equal scipy on the raw samples, new
values listed), the folded cell apart from user values (a category called ``__other__``),
and merges past the cap that equal the profile of the concatenated rows in any order."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import score, score_column
from monitoring_pipelines.stats.profile import (
    CategoricalProfile,
    NumericalProfile,
    fit_categorical,
    fit_numerical,
    profile_categorical,
)

RNG = np.random.default_rng(10)
TERMS = [12, 24, 36, 60]


def loan_terms() -> tuple[np.ndarray, np.ndarray]:
    """The issue's example: 48 months appears in production with a quarter of the rows."""
    reference = RNG.choice(TERMS, 100_000, p=[0.1, 0.2, 0.45, 0.25]).astype(float)
    current = RNG.choice([12, 24, 36, 48, 60], 10_000, p=[0.1, 0.2, 0.25, 0.2, 0.25])
    return reference, current.astype(float)


def test_a_new_value_of_a_discrete_column_is_scored_as_the_raw_samples_are():
    reference, current = loan_terms()
    baseline = fit_baseline(pd.DataFrame({"t": reference}), {"t": "numerical"}).columns["t"]
    window = profile_frame(pd.DataFrame({"t": current}), _one(baseline)).columns["t"]
    assert baseline.discrete and window.new_values == [48.0]
    assert window.values[48.0] == int((current == 48).sum())
    raw_ks = stats.ks_2samp(reference, current, method="asymp")
    ks = score_column("ks", baseline, window)
    assert ks.value == pytest.approx(raw_ks.statistic, abs=1e-12)
    assert ks.value > 0.19 and ks.drifted
    assert ks.p_value == pytest.approx(raw_ks.pvalue, rel=1e-9, abs=1e-300)
    raw_w = stats.wasserstein_distance(reference, current) / reference.std()
    assert score_column("wasserstein", baseline, window).value == pytest.approx(raw_w, abs=1e-12)
    psi = score_column("psi", baseline, window)
    assert psi.drifted and psi.value > 1.0  # 48 is a cell of its own, not hidden in 36's bin
    assert psi.detail["new_values"] == [48.0] and psi.detail["new_value_count"] > 1900
    [moved, *_] = psi.detail["categories"]  # what the alert shows
    assert moved["value"] == "48" and moved["new"] and moved["reference_share"] == 0.0
    # score() on raw samples gives the same answers
    assert score("ks", reference, current).value == pytest.approx(raw_ks.statistic, abs=1e-12)
    assert score("psi", reference, current).value == pytest.approx(psi.value, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_discrete_ks_and_wasserstein_equal_scipy_with_infinities_and_missing(seed):
    rng = np.random.default_rng(seed)
    reference = rng.poisson(3, 2000).astype(float)
    current = rng.poisson(3 + seed, 700).astype(float)
    current[:5] = [np.nan, np.inf, -np.inf, np.nan, -0.0]
    baseline = fit_numerical(reference, 40)
    window = baseline.like(current)
    assert window.discrete and window.other == 0
    present = current[~np.isnan(current)]
    assert score_column("ks", baseline, window).value == pytest.approx(
        stats.ks_2samp(reference, present).statistic, abs=1e-12
    )
    finite = current[np.isfinite(current)]
    assert score_column("wasserstein", baseline, window).value == pytest.approx(
        stats.wasserstein_distance(reference, finite) / reference.std(), abs=1e-12
    )
    assert score_column("ks", baseline, baseline.like(reference)).value == 0.0


def test_a_column_with_more_distinct_values_than_bins_is_not_discrete():
    assert not fit_numerical(np.arange(41.0), 40).discrete
    assert fit_numerical(np.arange(40.0), 40).discrete


def test_discrete_values_past_the_cap_fold_and_the_binned_metrics_take_over():
    baseline = fit_numerical(np.array([1.0, 2.0, 3.0] * 10), 40, max_values=2)
    window = baseline.like(np.arange(10.0, 20.0))
    assert len(window.new_values) == 2 and window.other == 8
    assert window.n_finite == 10 and window.counts.sum() == 10
    result = score_column("ks", baseline, window)
    assert result.value == 1.0  # the bins still place every value above the baseline's


def _one(profile):
    from monitoring_pipelines.stats.dataset import DatasetProfile

    return DatasetProfile(row_count=0, columns={"t": profile})


LOOK_ALIKES = ["__other__", "__other", "__OTHER__", " __other__", "__other__ ", "other"]


def test_a_category_named_like_the_folded_cell_keeps_its_count():
    values = pd.Series(["a"] * 5 + LOOK_ALIKES * 2 + ["__other__"] * 3)
    p = profile_categorical(values, (), max_categories=100)
    assert p.counts["__other__"] == 5 and p.other == 0
    assert all(p.counts[v] == 2 for v in LOOK_ALIKES[1:])
    capped = profile_categorical(values, ("a", "__other__"), max_categories=1)
    assert capped.counts["__other__"] == 5 and capped.counts["a"] == 5
    assert capped.other == 2 * (len(LOOK_ALIKES) - 2) and capped.count == values.size


def test_folded_cell_and_a_user_category_named_like_it_are_separate_cells():
    reference = fit_categorical(pd.Series(["a"] * 50 + ["__other__"] * 30 + ["r1", "r2"] * 10), 2)
    assert reference.counts == {"a": 50, "__other__": 30} and reference.other == 20
    same = profile_categorical(
        pd.Series(["a"] * 50 + ["__other__"] * 30 + ["r3"] * 20), ("a", "__other__"), 2
    )
    assert score_column("psi", reference, same).value == pytest.approx(0.0, abs=1e-12)
    swapped = profile_categorical(
        pd.Series(["a"] * 50 + ["__other__"] * 10 + ["r3"] * 40), ("a", "__other__"), 2
    )
    assert score_column("tvd", reference, swapped).value == pytest.approx(0.2)


def test_the_issue_merge_example_is_order_free():
    hours = [["y", "y", "y", "x", "x"], ["x", "x"], ["x", "x"]]
    profiles = [profile_categorical(pd.Series(h), (), max_categories=1) for h in hours]
    whole = profile_categorical(pd.Series(list(itertools.chain(*hours))), (), max_categories=1)
    a, b, c = profiles
    for merged in (a.merge(b).merge(c), a.merge(b.merge(c)), c.merge(a).merge(b)):
        assert merged.counts == whole.counts and merged.other == whole.other
    assert whole.count == 9 and set(whole.counts) <= {"x", "y"} and len(whole.counts) == 1


category_hours = st.lists(
    st.lists(st.sampled_from([f"c{i}" for i in range(12)] + ["__other__"]), max_size=30),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(hours=category_hours, cap=st.integers(1, 4), order=st.randoms(use_true_random=False))
def test_categorical_merges_past_the_cap_equal_the_whole_in_every_order(hours, cap, order):
    reference = ("c0", "c1")
    profiles = [profile_categorical(pd.Series(h, dtype=object), reference, cap) for h in hours]
    whole = profile_categorical(
        pd.Series(list(itertools.chain(*hours)), dtype=object), reference, cap
    )
    order.shuffle(profiles)
    left = functools.reduce(CategoricalProfile.merge, profiles)
    right = functools.reduce(lambda acc, p: p.merge(acc), reversed(profiles))
    split = order.randint(1, len(profiles))
    grouped = (
        _merged(profiles[:split]).merge(_merged(profiles[split:]))
        if split < len(profiles)
        else left
    )
    for merged in (left, right, grouped):
        assert merged.counts == whole.counts and merged.other == whole.other
        assert merged.missing == whole.missing and merged.count == whole.count
    # the folding bound: listed counts are exact, every unlisted value is within the folded mass
    true = pd.Series(list(itertools.chain(*hours)), dtype=object).value_counts().to_dict()
    for value, n in whole.counts.items():
        assert n == true.get(value, 0)
    unlisted = {v: n for v, n in true.items() if v not in whole.counts}
    assert sum(unlisted.values()) == whole.other
    assert all(n <= whole.other for n in unlisted.values())


def _merged(profiles):
    return functools.reduce(lambda a, b: a.merge(b), profiles)


@settings(max_examples=40, deadline=None)
@given(
    hours=st.lists(
        st.lists(st.integers(0, 15).map(float) | st.just(np.nan), max_size=40),
        min_size=1,
        max_size=5,
    ),
    cap=st.integers(1, 5),
    order=st.randoms(use_true_random=False),
)
def test_discrete_merges_equal_the_whole_in_every_order(hours, cap, order):
    baseline = fit_numerical(np.array([0.0, 1.0, 2.0, 3.0]), 40, max_values=cap)
    profiles = [baseline.like(np.array(h, dtype=float)) for h in hours]
    whole = baseline.like(np.array(list(itertools.chain(*hours)), dtype=float))
    order.shuffle(profiles)
    for merged in (_merged(profiles), _merged(profiles[::-1])):
        assert merged.values == whole.values and merged.other == whole.other
        assert np.array_equal(merged.counts, whole.counts)
        assert merged.n_finite == whole.n_finite and merged.missing == whole.missing
    assert isinstance(whole, NumericalProfile)
