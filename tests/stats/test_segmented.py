"""Segmented profiling: segment profiles merge to the population's exactly (counts, moments),
each segment equals the unsegmented profile of its rows, the result does not depend on the
chunking, the numpy path equals the compiled kernel, and a cardinality bomb is capped,
counted and kept in bounded memory with a clear notice."""

from __future__ import annotations

import tracemalloc
from functools import reduce

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats import segment_kernel
from monitoring_pipelines.stats.bin_table import table_for
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks
from monitoring_pipelines.stats.profile import CategoricalProfile, NumericalProfile
from monitoring_pipelines.stats.segmented import profile_segmented_chunks
from monitoring_pipelines.stats.segments import SegmentKey

KINDS = {"x": "numerical", "k": "numerical", "c": "categorical", "region": "categorical"}
REGION = SegmentKey(("region",))
REGION_CHANNEL = SegmentKey(("region", "channel"))


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(1e6, 3.0, n),  # a large offset: moments must not cancel
            "k": rng.integers(0, 6, n).astype(float),  # discrete
            "c": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "region": rng.choice(["eu", "us", "apac"], n, p=[0.5, 0.3, 0.2]),
            "channel": pd.Categorical(rng.choice(["web", "app"], n)),
        }
    )
    return frame


@pytest.fixture(scope="module")
def window():
    reference = _frame(40_000, 1)
    baseline = fit_baseline(reference, KINDS)
    current = _frame(30_000, 2)
    current.loc[::17, "x"] = np.nan
    current.loc[::19, "x"] = np.inf
    current.loc[::23, "k"] = 9.0  # a value the discrete baseline did not have
    current.loc[::29, "c"] = "new"
    current.loc[::31, "region"] = None
    chunks = [current.iloc[i : i + 7_000] for i in range(0, len(current), 7_000)]
    segmented = profile_segmented_chunks(chunks, baseline, [REGION, REGION_CHANNEL])
    return baseline, current, segmented


def _assert_same(a, b) -> None:
    """Counts equal exactly, moments to float rounding."""
    assert a.row_count == b.row_count
    for name, p in a.columns.items():
        q = b.columns[name]
        if isinstance(p, NumericalProfile):
            np.testing.assert_array_equal(p.counts, q.counts, err_msg=name)
            assert (p.missing, p.invalid, p.pos_inf, p.neg_inf, p.n_finite) == (
                q.missing,
                q.invalid,
                q.pos_inf,
                q.neg_inf,
                q.n_finite,
            ), name
            assert p.values == q.values and p.other == q.other, name
            if p.n_finite:
                assert p.mean == pytest.approx(q.mean, rel=1e-13, abs=1e-9), name
                assert p.m2 == pytest.approx(q.m2, rel=1e-9), name
                assert (p.min, p.max) == (q.min, q.max), name
        else:
            assert isinstance(q, CategoricalProfile)
            assert (p.counts, p.missing, p.other) == (q.counts, q.missing, q.other), name


def test_segment_profiles_merge_to_the_population_exactly(window):
    baseline, current, segmented = window
    unsegmented = profile_chunks([current], baseline)  # the existing one-column path
    _assert_same(segmented.population, unsegmented)
    for prefix, n_parts in (("region=", 4), ("region=eu,", 2)):
        parts = [
            p
            for name, p in segmented.segments.items()
            if name.startswith(prefix) and ("," in name) == ("," in prefix)
        ]
        assert len(parts) == n_parts
    by_region = [p for n, p in segmented.segments.items() if "," not in n]
    by_pair = [p for n, p in segmented.segments.items() if "," in n]
    for parts in (by_region, by_pair):
        _assert_same(reduce(lambda a, b: a.merge(b), parts), unsegmented)


def test_each_segment_is_the_profile_of_its_rows(window):
    baseline, current, segmented = window
    assert sorted(n for n in segmented.segments if "," not in n) == [
        "region=__missing__",
        "region=apac",
        "region=eu",
        "region=us",
    ]
    for region, rows in current.groupby(current.region.fillna("__missing__")):
        segment = segmented.segments[f"region={region}"]
        _assert_same(segment, profile_chunks([rows], baseline))
        finite = rows.x[np.isfinite(rows.x)]  # numbers checked against pandas directly
        x = segment.columns["x"]
        assert x.mean == pytest.approx(finite.mean(), rel=1e-13)
        assert x.std == pytest.approx(finite.std(ddof=0), rel=1e-9)
        assert x.missing == rows.x.isna().sum()
        assert segment.columns["k"].values[9.0] == (rows.k == 9.0).sum()
    pair = segmented.segments["region=eu,channel=web"]
    expected = ((current.region == "eu") & (current.channel == "web")).sum()
    assert pair.row_count == expected
    assert segmented.population.extra_columns == ()  # segment-only columns are not "extra"


def test_the_chunking_does_not_change_any_number(window):
    baseline, current, _ = window
    capped = SegmentKey(("region", "channel"), max_values=3)
    whole = profile_segmented_chunks([current], baseline, [capped])
    pieces = [current.iloc[i : i + 1_000] for i in range(0, len(current), 1_000)]
    chunked = profile_segmented_chunks(pieces, baseline, [capped])
    assert sorted(whole.segments) == sorted(chunked.segments)
    for name, profile in whole.segments.items():
        _assert_same(profile, chunked.segments[name])
    assert whole.folding == chunked.folding
    assert whole.folding[0].kept == 3 and whole.folding[0].folded_values == 8 - 3


def test_numpy_path_counts_like_the_compiled_kernel():
    if segment_kernel.compiled() is None:
        pytest.skip("numba unavailable: only the numpy path runs")
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(size=20_000), [np.nan, np.inf, -np.inf, 0.0, 1.0]])
    rng.shuffle(x)
    codes = rng.integers(0, 7, x.size).astype(np.int64)
    edges = np.concatenate([[-np.inf], np.linspace(-2, 2, 21), [np.inf]])

    def accumulators():
        s, b = 7, edges.size - 1
        ints = [np.zeros(s, np.int64) for _ in range(4)]
        floats = [np.zeros(s) for _ in range(3)] + [np.full(s, np.inf), np.full(s, -np.inf)]
        return (np.zeros((s, b), np.int64), np.zeros((s, b), np.int64), *ints, *floats)

    compiled, numpy = accumulators(), accumulators()
    table = table_for(edges)
    segment_kernel.compiled().discrete(x, codes, table.lead, table.top, table.sub, compiled)
    segment_kernel.count_numpy(x, codes, edges, True, numpy)
    for a, b in zip(compiled, numpy, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    counts = compiled[0].sum(axis=0)  # against numpy's histogram of the same values
    finite = x[~np.isnan(x)]
    expected = np.histogram(np.clip(finite, -1e300, 1e300), bins=np.clip(edges, -1e301, 1e301))
    np.testing.assert_array_equal(counts, expected[0])


def _bomb(n_values: int, rows: int = 200_000) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "c": rng.choice(["a", "b"], rows),
            "user": (np.arange(rows) % n_values).astype(str),  # every value equally often
        }
    )


def _profile_bomb(frame: pd.DataFrame, baseline, key: SegmentKey):
    chunks = (frame.iloc[i : i + 20_000] for i in range(0, len(frame), 20_000))
    tracemalloc.start()
    try:
        result = profile_segmented_chunks(chunks, baseline, [key])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def test_a_cardinality_bomb_is_capped_counted_and_bounded():
    key = SegmentKey(("user",), max_values=50)
    bomb = _bomb(100_000)
    baseline = fit_baseline(bomb.iloc[:5_000], {"x": "numerical", "c": "categorical"})
    result, peak = _profile_bomb(bomb, baseline, key)
    [folding] = result.folding
    assert (folding.kept, folding.folded_values) == (50, 100_000 - 50)
    assert folding.folded_rows == 200_000 - 50 * 2  # each kept value has 2 rows
    assert len(result.segments) == 51  # 50 values and user=__other__
    assert result.segments["user=__other__"].row_count == folding.folded_rows
    assert sum(p.row_count for p in result.segments.values()) == 200_000  # every row kept
    _assert_same(result.population, profile_chunks([bomb], baseline))
    assert folding.notice == (
        "segment key user: 100,000 values in the window, 50 kept (max_values 50), 99,950 "
        "folded into user=__other__ (199,900 rows)"
    )
    # memory: what the chunks cost, not the number of values (50 values in the same rows)
    _, tame_peak = _profile_bomb(_bomb(50), baseline, key)
    assert peak < 3 * tame_peak + 16 * 2**20, (peak, tame_peak)


def test_a_many_valued_category_is_capped_per_segment_as_alone():
    """More new categories than the cap keeps: each segment folds its own extras (the
    accumulators drop the keys no segment keeps), exactly as profiling its rows alone."""
    rng = np.random.default_rng(12)
    n = 20_000
    frame = pd.DataFrame(
        {
            "u": rng.integers(0, 3_000, n).astype(str),
            "region": rng.choice(["eu", "us", "apac"], n),
        }
    )
    baseline = fit_baseline(frame.iloc[:2_000], {"u": "categorical"}, max_categories=10)
    chunks = [frame.iloc[i : i + 2_500] for i in range(0, n, 2_500)]
    result = profile_segmented_chunks(chunks, baseline, [REGION])
    _assert_same(result.population, profile_chunks([frame], baseline))
    for region, rows in frame.groupby("region"):
        _assert_same(result.segments[f"region={region}"], profile_chunks([rows], baseline))
    assert result.population.columns["u"].other > 0
