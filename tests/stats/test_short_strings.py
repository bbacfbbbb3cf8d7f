"""Arrow string columns counted by the compiled short-string pass equal the value_counts path."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitoring_pipelines.stats import kernel, profile
from monitoring_pipelines.stats.profile import OTHER, fit_categorical, profile_categorical

pytestmark = pytest.mark.skipif(kernel.compiled() is None, reason="numba unavailable")


def arrow_series(chunks: list[list]) -> pd.Series:
    """A pandas string column backed by an Arrow chunked array, as ``read_parquet`` gives it."""
    arrays = [pa.array(chunk, type=pa.large_string()) for chunk in chunks]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(arrays, type=pa.large_string())))


def plain(values: pd.Series, reference: tuple[str, ...], cap: int) -> profile.CategoricalProfile:
    """The profile by ``value_counts`` (the path without the compiled pass)."""
    return profile_categorical(values.astype(object), reference, cap)


def facts(p: profile.CategoricalProfile) -> tuple:
    return list(p.counts.items()), p.missing, p.other, p.replaced


LABELS = ["", "a", "v1", "v22", "1234567", "ü", "日本", OTHER[:7], "\x00x", "n\ud800"[:1]]


@pytest.mark.parametrize("cap", [3, 100])
def test_counts_nulls_cap_and_order_equal_value_counts(cap):
    rng = np.random.default_rng(5)
    pool = LABELS + [f"c{i}" for i in range(40)]
    values = [None if rng.random() < 0.05 else pool[i] for i in rng.integers(0, len(pool), 5000)]
    series = arrow_series([values[:1234], [], values[1234:4000], values[4000:]])
    reference = ("a", "v1", "never", "")
    short = kernel.count_short_strings(series.array.__arrow_array__().chunks)
    assert short is not None
    expected = Counter(v for v in values if v is not None)
    assert dict(zip(*short, strict=True)) == expected
    assert short[0] == list(dict.fromkeys(v for v in values if v is not None))  # first seen
    assert facts(profile_categorical(series, reference, cap)) == facts(
        plain(series, reference, cap)
    )


def test_sliced_chunks_and_32_bit_offsets():
    values = ["x", None, "yy", "x", "zzz", "yy", "x"]
    chunk = pa.array(values, type=pa.string()).slice(2, 4)  # "yy", "x", "zzz", "yy"
    assert kernel.count_short_strings([chunk]) == (["yy", "x", "zzz"], [2, 1, 1])
    assert kernel.count_short_strings([pa.array([None, None], type=pa.string())]) == ([], [])


def test_table_grows_past_its_first_size():
    values = [f"k{i}" for i in range(3 * kernel.STRING_SLOTS)] * 2 + [None]
    series = arrow_series([values])
    distinct, seen = kernel.count_short_strings(series.array.__arrow_array__().chunks)
    assert distinct == values[: 3 * kernel.STRING_SLOTS] and set(seen) == {2}
    assert facts(profile_categorical(series, (), 50)) == facts(plain(series, (), 50))
    fitted, by_counts = fit_categorical(series, 20), fit_categorical(series.astype(object), 20)
    assert facts(fitted) == facts(by_counts)


def test_a_long_string_or_no_kernel_falls_back(monkeypatch):
    series = arrow_series([["short", "12345678", "short", None]])
    assert kernel.count_short_strings(series.array.__arrow_array__().chunks) is None
    assert facts(profile_categorical(series, ("short",), 5)) == (
        [("short", 2), ("12345678", 1)],
        1,
        0,
        0,
    )
    monkeypatch.setattr(kernel, "compiled", lambda: None)
    assert kernel.count_short_strings(series.array.__arrow_array__().chunks) is None
    short = arrow_series([["a", "b", "a"]])
    assert facts(profile_categorical(short, (), 5)) == ([("a", 2), ("b", 1)], 0, 0, 0)
