"""Categorical columns counted by dictionary index equal the value_counts path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitoring_pipelines.stats.profile import (
    CODE_SLICE,
    OTHER,
    fit_categorical,
    profile_categorical,
    profile_numerical,
    to_float,
)


def as_dictionary(values: list) -> pd.Series:
    """The column as ParquetLogSource hands it over: an Arrow dictionary array in pandas."""
    array = pa.array(values, type=pa.string()).dictionary_encode()
    return pa.table({"c": array}).to_pandas()["c"]


def assert_same(values: list, reference: tuple[str, ...], cap: int) -> None:
    plain = profile_categorical(pd.Series(values, dtype=object), reference, cap)
    encoded_values = as_dictionary(values)
    assert isinstance(encoded_values.dtype, pd.CategoricalDtype)
    encoded = profile_categorical(encoded_values, reference, cap)
    assert (encoded.counts, encoded.missing, encoded.other) == (
        plain.counts,
        plain.missing,
        plain.other,
    )


def test_nulls_unseen_categories_the_cap_and_a_category_named_other():
    rng = np.random.default_rng(3)
    labels = [f"v{i}" for i in range(300)] + [OTHER, "1", "ü"]
    values = [
        None if rng.random() < 0.05 else labels[rng.integers(len(labels))] for _ in range(5000)
    ]
    baseline = fit_categorical(pd.Series(values[:500], dtype=object), max_categories=20)
    reference = baseline.reference_categories or tuple(baseline.counts)
    for cap in (1, 20, 1000):
        assert_same(values, reference, cap)
    assert_same([None, None], reference, 20)
    assert_same([], (), 20)


def test_unused_dictionary_entries_are_not_listed():
    series = pd.Series(pd.Categorical(["a", "a", None], categories=["a", "b", "c"]))
    profile = profile_categorical(series, ("a", "b"))
    assert profile.counts == {"a": 2, "b": 0} and profile.missing == 1


def test_numbers_from_a_dictionary_column_count_invalid_values():
    values = ["1.5", "x", None, "1.5", "-2", "y"]
    x, invalid = to_float(as_dictionary(values))
    expected, expected_invalid = to_float(pd.Series(values, dtype=object))
    np.testing.assert_array_equal(x, expected)
    assert invalid == expected_invalid == 2
    profile = profile_numerical(as_dictionary(values), np.array([-np.inf, 0.0, np.inf]))
    assert (profile.counts.tolist(), profile.invalid, profile.missing) == ([1, 2], 2, 1)


@pytest.mark.parametrize("cap", [5, 50])
def test_many_categories_fold_the_same_way(cap):
    values = [f"c{i % 997}" for i in range(20_000)]
    assert_same(values, ("c1", "c2"), cap)


def test_columns_longer_than_a_slice_of_codes_count_every_row():
    """Codes are counted slice by slice (``CODE_SLICE``): nulls and categories in every slice,
    a last partial slice, more than 127 categories (16-bit codes), against value_counts."""
    rng = np.random.default_rng(5)
    labels = np.array([f"c{i}" for i in range(300)], dtype=object)
    values = labels[rng.integers(0, 300, 2 * CODE_SLICE + 77)].tolist()
    for i in rng.choice(len(values), 500, replace=False):
        values[i] = None
    assert_same(values, ("c1", "c2", "absent"), 1000)
    counted = profile_categorical(as_dictionary(values), (), 1000)
    assert counted.missing == 500 and counted.count == len(values) - 500
