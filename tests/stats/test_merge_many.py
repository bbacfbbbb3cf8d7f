"""One-pass merges of many profiles (rolled-up windows) equal the pairwise fold bit for bit."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import reduce

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats.dataset import DatasetProfile, fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import (
    CategoricalProfile,
    Kind,
    NumericalProfile,
    fit_categorical,
    fit_numerical,
    merge_all,
    profile_categorical,
    profile_numerical,
)


def _same(a: object, b: object) -> bool:
    """Equal field for field, floats by ``repr`` (NaN equals NaN, −0.0 differs from 0.0), dicts
    with their order."""
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, float | np.floating):
        return isinstance(b, float | np.floating) and repr(float(a)) == repr(float(b))
    if isinstance(a, dict):
        return list(a.items()) == list(b.items())
    if isinstance(a, NumericalProfile | CategoricalProfile):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)
        )
    return a == b


def _hours(rng: np.random.Generator, n: int, discrete: bool) -> list[np.ndarray]:
    """Hours of a numerical column: some empty, some all missing, some with ±inf, zeros."""
    hours = []
    for i in range(n):
        size = int(rng.integers(0, 200)) if i % 5 else 0
        x = rng.integers(0, 40, size).astype(float) if discrete else rng.standard_t(2, size)
        if i % 4 == 1:
            x[: size // 3] = np.nan
        if i % 6 == 2 and size:
            x[0] = np.inf if i % 12 == 2 else -np.inf
        if i % 7 == 3:
            x = np.full(size, np.nan)
        hours.append(x)
    return hours


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_numerical_merge_all_is_the_pairwise_fold(seed: int, discrete: bool):
    rng = np.random.default_rng(seed)
    hours = _hours(rng, 30, discrete)
    reference = rng.integers(0, 8, 500).astype(float) if discrete else rng.standard_t(2, 1000)
    base = fit_numerical(reference, 10)
    assert base.discrete is discrete
    max_values = 5  # discrete hours hold up to 40 values: the cap folds along the way
    profiles = [
        profile_numerical(x, base.edges, base.reference_values or tuple(base.values), max_values)
        if discrete
        else profile_numerical(x, base.edges)
        for x in hours
    ]
    if discrete:
        assert reduce(NumericalProfile.merge, profiles).other > 0
    for k in (1, 2, 24, len(profiles)):
        assert _same(merge_all(profiles[:k]), reduce(NumericalProfile.merge, profiles[:k]))


def test_the_zero_kept_by_min_and_max_is_the_pairwise_folds():
    edges = np.array([-np.inf, 0.0, np.inf])
    profiles = [profile_numerical(np.array(v), edges) for v in ([0.0, 0.5], [-0.0, 0.5], [-0.0])]
    negative = [profile_numerical(np.array(v), edges) for v in ([-0.0, -0.5], [0.0, -0.5])]
    for group in (profiles, profiles[::-1], negative, negative[::-1]):
        assert _same(merge_all(group), reduce(NumericalProfile.merge, group))


@pytest.mark.parametrize("seed", range(4))
def test_categorical_merge_all_is_the_pairwise_fold(seed: int):
    rng = np.random.default_rng(seed)
    base = fit_categorical(pd.Series(rng.choice(list("abcdef"), 500)), max_categories=4)
    profiles = []
    for i in range(30):
        values = pd.Series(rng.choice([*"abcdefgh", *(f"new{j}" for j in range(i))], 50))
        values[: i % 3] = None
        profiles.append(profile_categorical(values, tuple(base.counts), max_categories=6))
    folded = reduce(CategoricalProfile.merge, profiles)
    assert folded.other > 0 and len(folded.counts) == 6 + 4  # the cap folded along the way
    for k in (1, 3, 24, len(profiles)):
        assert _same(merge_all(profiles[:k]), reduce(CategoricalProfile.merge, profiles[:k]))


def test_categorical_hours_without_new_values_merge_as_the_pairwise_fold():
    # most hours hold only the baseline's categories (the same keys, added at once); a few
    # bring new ones, in their own order, which the later hours then share or lack
    rng = np.random.default_rng(9)
    base = fit_categorical(pd.Series(rng.choice(list("abcdef"), 500)), max_categories=6)
    profiles = []
    for i in range(40):
        extra = ["zz", "new"] if i % 7 == 3 else (["new"] if i % 11 == 5 else [])
        values = pd.Series(rng.choice([*"abcde", *extra], 80))
        profiles.append(profile_categorical(values, tuple(base.counts), max_categories=3))
    keys = {tuple(p.counts) for p in profiles}
    assert len(keys) >= 3  # hours with and without new values
    for k in (2, 5, 12, 24, len(profiles)):
        assert _same(merge_all(profiles[:k]), reduce(CategoricalProfile.merge, profiles[:k]))
        assert _same(merge_all(profiles[-k:]), reduce(CategoricalProfile.merge, profiles[-k:]))


def test_dataset_merge_many_is_the_pairwise_fold():
    rng = np.random.default_rng(9)
    reference = pd.DataFrame(
        {"x": rng.normal(size=400), "k": rng.choice(list("abc"), 400), "d": rng.integers(0, 4, 400)}
    )
    kinds = {"x": Kind.NUMERICAL, "k": Kind.CATEGORICAL, "d": Kind.NUMERICAL}
    baseline = fit_baseline(reference, kinds, n_bins=8)
    hours = []
    for i in range(26):
        frame = reference.sample(int(rng.integers(0, 80)), random_state=i, replace=True)
        if i % 3 == 0:
            frame = frame.drop(columns=["k"])  # an absent column
        if i % 4 == 0:
            frame = frame.assign(extra=1)
        profile = profile_frame(frame, baseline)
        errors = NumericalProfile.empty(np.array([-np.inf, 1.0, np.inf]))
        if i % 2:
            errors = profile_numerical(rng.uniform(0, 2, 10), errors.edges)
        hours.append(replace(profile, multivariate=errors if i % 5 else None))
    for group in (hours[:1], hours[:24], hours):
        many, pairwise = DatasetProfile.merge_many(group), reduce(DatasetProfile.merge, group)
        assert many.row_count == pairwise.row_count
        assert many.absent_columns == pairwise.absent_columns == ("k",)
        assert many.extra_columns == pairwise.extra_columns
        assert list(many.columns) == list(pairwise.columns)
        for name, column in many.columns.items():
            assert _same(column, pairwise.columns[name]), name
        assert _same(many.multivariate, pairwise.multivariate)


def test_merge_all_refuses_what_merge_refuses():
    edges = np.array([-np.inf, 1.0, np.inf])
    numerical = profile_numerical(np.array([0.5]), edges)
    other_edges = profile_numerical(np.array([0.5]), np.array([-np.inf, 2.0, np.inf]))
    categorical = profile_categorical(pd.Series(["a"]), ("a",))
    with pytest.raises(ValueError, match="different bin edges"):
        merge_all([numerical, numerical, other_edges])
    with pytest.raises(TypeError, match="cannot merge a numerical profile with Categorical"):
        merge_all([numerical, categorical])
    with pytest.raises(ValueError, match="different baselines"):
        merge_all([categorical, profile_categorical(pd.Series(["a"]), ("a", "b"))])
