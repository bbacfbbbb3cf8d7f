"""The compiled one-pass kernel equals the numpy sort path bin for bin, count for count."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring_pipelines.stats import kernel
from monitoring_pipelines.stats.bin_table import CROWDED, table_for
from monitoring_pipelines.stats.binning import bin_index, quantile_edges
from monitoring_pipelines.stats.dataset import THREADED_ROWS, fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import count_sorted, fit_numerical, profile_numerical

pytestmark = pytest.mark.skipif(kernel.compiled() is None, reason="numba is not installed")


def shapes(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "normal": rng.normal(size=n),
        "t(2)": rng.standard_t(2.0, n),
        "lognormal σ=2": rng.lognormal(0.0, 2.0, n),
        "discrete": rng.integers(0, 5, n).astype(np.float64),
        "zero-inflated": np.where(rng.random(n) < 0.9, 0.0, rng.exponential(1.0, n)),
    }


def assert_same(x: np.ndarray, edges: np.ndarray, reference_values=None) -> None:
    """Kernel and sort path agree exactly on counts, to 1e-12 of the scale on moments."""
    ours = kernel.count(x, edges, reference_values)
    expected = count_sorted(x, edges, reference_values)
    np.testing.assert_array_equal(ours.counts, expected.counts)
    present = x[~np.isnan(x)]
    np.testing.assert_array_equal(
        ours.counts, np.bincount(bin_index(present, edges), minlength=edges.size - 1)
    )
    assert (ours.missing, ours.pos_inf, ours.neg_inf, ours.n_finite) == (
        expected.missing,
        expected.pos_inf,
        expected.neg_inf,
        expected.n_finite,
    )
    assert ours.values == expected.values
    if ours.values is not None:
        assert list(ours.values) == list(expected.values)  # the same order: stored as given
    if expected.n_finite == 0:
        assert np.isnan(ours.mean) and np.isnan(ours.min) and ours.m2 == 0.0
        return
    assert (ours.min, ours.max) == (expected.min, expected.max)
    finite = x[np.isfinite(x)]
    scale = float(np.abs(finite).max())
    assert abs(ours.mean - expected.mean) <= 1e-12 * scale
    # two-pass M2 errs by about n·(eps·scale)² where the mean is off by an ulp
    assert abs(ours.m2 - expected.m2) <= 1e-12 * expected.m2 + finite.size * (1e-14 * scale) ** 2


@pytest.mark.parametrize("shape", list(shapes(np.random.default_rng(0), 1)))
def test_every_shape_with_missing_and_infinite_values_matches_the_sort_path(shape):
    rng = np.random.default_rng(1)
    reference = shapes(rng, 20_000)[shape]
    x = shapes(rng, 300_001)[shape]
    x[rng.random(x.size) < 0.02] = np.nan
    x[rng.integers(0, x.size, 50)] = np.inf
    x[rng.integers(0, x.size, 30)] = -np.inf
    edges = quantile_edges(reference, 40)
    x[rng.integers(0, x.size, 500)] = rng.choice(edges[1:-1], 500)  # exactly on edges
    assert_same(x, edges)
    baseline = fit_numerical(reference, 40)
    if baseline.discrete:
        x[:7] = [5.0, -1.0, 2.5, 2.5, -0.0, 1e150, 4.000000001]  # new values, one at -0.0
        assert_same(x, edges, baseline.reference_values)


def test_empty_and_all_missing_chunks():
    edges = np.array([-np.inf, 0.0, 1.0, np.inf])
    for x in (np.array([]), np.full(5000, np.nan), np.array([np.inf, -np.inf, np.nan])):
        assert_same(x, edges)
        assert_same(x, edges, (0.0,))


@pytest.mark.parametrize("size", [1, 3, 5, 2047, 2049, 2 * 2048 + 3])
def test_values_after_the_last_full_round_of_lanes_and_blocks_of_one_value(size):
    # the loop counts a value per lane, then a block's last values (fewer than the lanes)
    # one by one: put every kind of lookup (±inf, NaN, a crowded cell, an edge) in that tail
    assert kernel.compiled().LANES == 4 and kernel.compiled().SUB_BLOCK == 2048
    edges = np.concatenate(([-np.inf, 0.0], 1000.0 + np.arange(8) / 64, [np.inf]))
    assert (table_for(edges).top < 0).sum() > 2  # a second level, besides ±inf's cells
    rng = np.random.default_rng(size)
    pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -3.0, 1000.03, 1000.0625, 5.0])
    x = rng.choice(pool, size)
    x[-3:] = [np.inf, 1000.03, np.nan][-size:]
    assert_same(x, edges)
    for value in (0.0, 1000.03, np.inf, np.nan):  # all of a block (and its tail) in one cell
        same = np.full(size, value)
        assert_same(same, edges)
        counted = kernel.count(same, edges, None)
        assert counted.counts.sum() + counted.missing == size


def test_crowded_cells_get_a_second_level_and_still_bin_exactly():
    edges = np.concatenate(([-np.inf], 1000.0 + np.arange(40) / 64, [np.inf]))
    table = table_for(edges)
    assert table.sub.size > 0 and (table.top < 0).any()
    rng = np.random.default_rng(2)
    x = np.concatenate(
        (1000.0 + rng.random(100_000) * 0.7, edges[1:-1], np.nextafter(edges[1:-1], 0))
    )
    assert_same(x, edges)
    assert CROWDED < 40


def test_edges_a_few_ulps_apart_are_scanned_and_still_bin_exactly():
    finite = np.unique(
        np.concatenate(
            (
                1.0 + np.arange(6) * 2.0**-52,  # more than CROWDED edges in one second-level cell
                -2.0 - np.arange(6) * 2.0**-51,  # the same on the negative side
                np.arange(1, 6) * 5e-324,  # and among the subnormals next to zero
            )
        )
    )
    edges = np.concatenate(([-np.inf], finite, [np.inf]))
    table = table_for(edges)
    assert (table.sub < 0).sum() >= 3  # the marked cells whose edges are scanned
    rng = np.random.default_rng(12)
    x = np.concatenate(
        (
            finite,
            np.nextafter(finite, np.inf),
            np.nextafter(finite, -np.inf),
            rng.choice(finite, 5000),
            rng.normal(size=5000),
            [-0.0, 0.0, np.nan, np.inf, -np.inf],
        )
    )
    assert_same(x, edges)
    assert_same(x, edges, tuple(finite.tolist()))


def test_discrete_moments_from_the_counts_do_not_cancel_and_new_values_join_them():
    rng = np.random.default_rng(10)
    baseline = fit_numerical(1e9 + rng.integers(0, 5, 10_000), 40)
    assert baseline.discrete
    on_edges = 1e9 + rng.integers(0, 5, 300_000).astype(np.float64)
    mixed = on_edges.copy()
    # off the edges, far out, and on the last edge, which is no baseline value
    mixed[:5] = [1e9 + 0.5, 2e9, np.nextafter(1e9 + 4, np.inf), -7.0, np.nan]
    for x, extremes in ((on_edges, (1e9, 1e9 + 4)), (mixed, (-7.0, 2e9))):
        ours = kernel.count(x, baseline.edges, baseline.reference_values)
        finite = x[np.isfinite(x)]
        mean = math.fsum(finite) / finite.size
        m2 = math.fsum((finite - mean) ** 2)  # x - mean is exact to well below 1e-12 of m2
        assert ours.mean == pytest.approx(mean, rel=1e-15)
        assert ours.m2 == pytest.approx(m2, rel=1e-12)
        assert (ours.min, ours.max, ours.n_finite) == (*extremes, finite.size)
    x = mixed
    assert ours.values == count_sorted(x, baseline.edges, baseline.reference_values).values
    assert_same(x, baseline.edges, baseline.reference_values)


def test_signed_zero_and_the_extremes_of_the_float_range():
    edges = np.array([-np.inf, -1e100, -5e-324, 0.0, 5e-324, 1e100, np.inf])
    x = np.array([-0.0, 0.0, -5e-324, 5e-324, -1e150, 1e150, -1e100, 1e100, 2.2e-308])
    assert_same(x, edges)


finite_floats = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)
special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 2.5])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(finite_floats, min_size=1, max_size=60),
    st.lists(st.one_of(finite_floats, special), max_size=3000),
    st.integers(1, 30),
)
def test_random_edges_and_data_match_the_sort_path(reference, current, n_bins):
    reference = np.array(reference)
    edges = quantile_edges(reference, n_bins)
    x = np.array(current, dtype=np.float64)
    assert_same(x, edges)
    baseline = fit_numerical(reference, n_bins)
    if baseline.discrete:
        assert_same(x, edges, baseline.reference_values)


def test_discrete_cells_count_each_baseline_value_exactly_and_nothing_next_to_it():
    values = np.array([-3.0, -0.0, 1.0, np.nextafter(1.0, 2.0), 7.5])  # two values an ulp apart
    baseline = fit_numerical(np.repeat(values, 3), 40)
    assert baseline.discrete and baseline.reference_values == (-3.0, 0.0, 1.0, 1.0 + 2**-52, 7.5)
    neighbours = np.concatenate((np.nextafter(values, -np.inf), np.nextafter(values, np.inf)))
    x = np.concatenate(
        (np.repeat(values, 1000), neighbours, [0.0, -0.0, np.nan, np.inf, -np.inf, 1e6, -1e6])
    )
    np.random.default_rng(13).shuffle(x)
    ours = kernel.count(x, baseline.edges, baseline.reference_values)
    finite = x[np.isfinite(x)] + 0.0  # -0.0 is the value 0.0
    expected = pd.Series(finite).value_counts()
    assert ours.values == {value: int(expected.get(value, 0)) for value in ours.values}
    assert sum(ours.values.values()) == finite.size
    assert ours.values[0.0] == 1002  # both zeros of x, and the baseline's -0.0 stored as 0.0
    assert_same(x, baseline.edges, baseline.reference_values)


def test_a_baseline_value_at_the_largest_float_is_counted_by_numpy():
    top = np.finfo(np.float64).max
    edges = np.array([-np.inf, 0.0, top, np.inf])
    x = np.array([0.0, top, np.inf, 5.0])
    assert kernel.count(x, edges, (0.0, top)) is None  # no float above it to split its bin
    with np.errstate(over="ignore"):  # the M2 of values up to the largest float is inf
        profile = profile_numerical(x, edges, (0.0, top))
    assert profile.values == {0.0: 1, top: 1, 5.0: 1}
    assert profile.counts.tolist() == [0, 2, 2] and profile.pos_inf == 1


def test_a_baseline_value_that_is_no_edge_is_counted_by_numpy():
    edges = np.array([-np.inf, 0.0, 1.0, np.inf])
    assert kernel.count(np.array([0.5]), edges, (0.5,)) is None
    profile = profile_numerical(np.array([0.5, 0.5, 2.0]), edges, (0.5,))
    assert profile.values == {0.5: 2, 2.0: 1}


FALLBACK = """
import sys
sys.modules["numba"] = None  # as if numba could not be imported
import numpy as np
from monitoring_pipelines.stats import kernel
from monitoring_pipelines.stats.dataset import THREADED_ROWS, fit_baseline, profile_frame
import pandas as pd
rng = np.random.default_rng(5)
frame = pd.DataFrame({"x": rng.normal(size=5000), "d": rng.integers(0, 4, 5000) * 1.0})
frame.loc[::7, "x"] = np.nan
baseline = fit_baseline(frame.iloc[:1000], {"x": "numerical", "d": "numerical"})
window = profile_frame(frame, baseline)
print(kernel.compiled() is None, window.columns["x"].counts.tolist(),
      sorted(window.columns["d"].values.items()), repr(window.columns["x"].m2), sep=chr(10))
"""


def test_without_numba_the_numpy_path_gives_the_same_profile():
    done = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fallback, counts, values, m2 = done.stdout.strip().splitlines()
    assert fallback == "True"
    here = subprocess.run(
        [sys.executable, "-c", FALLBACK.replace('sys.modules["numba"] = None', "")],
        capture_output=True,
        text=True,
    )
    assert here.returncode == 0, here.stderr
    compiled, counts_here, values_here, m2_here = here.stdout.strip().splitlines()
    assert compiled == "False"
    assert (counts_here, values_here) == (counts, values)
    assert float(m2_here) == pytest.approx(float(m2), rel=1e-12)


def test_moments_of_a_large_offset_do_not_cancel():
    x = 1e9 + np.random.default_rng(6).normal(0.0, 1.0, 1_000_000)
    ours = kernel.count(x, quantile_edges(x[:1000], 10), None)
    mean = math.fsum(x) / x.size
    m2 = math.fsum((x - mean) ** 2)  # x - mean is exact: both lie within a factor 2
    assert ours.mean == pytest.approx(mean, rel=1e-15)
    assert ours.m2 == pytest.approx(m2, rel=1e-12)


def test_columns_in_threads_give_the_same_profile():
    rng = np.random.default_rng(8)
    n = THREADED_ROWS  # from here a chunk's columns go to the threads
    frame = pd.DataFrame(
        {f"x{i}": rng.standard_t(2.0, n) for i in range(6)}
        | {"d": rng.integers(0, 3, n) * 1.0, "c": rng.choice(list("abcde"), n)}
    )
    kinds = dict.fromkeys(frame.columns, "numerical") | {"c": "categorical"}
    baseline = fit_baseline(frame.iloc[:2_000], kinds)
    one = profile_frame(frame.drop(columns="x5"), baseline)
    three = profile_frame(frame.drop(columns="x5"), baseline, threads=3)
    assert list(three.columns) == list(one.columns) and three.absent_columns == ("x5",)
    for name, profile in one.columns.items():
        other = three.columns[name]
        if name == "c":
            assert other.counts == profile.counts
        else:
            np.testing.assert_array_equal(other.counts, profile.counts)
            np.testing.assert_equal(
                (other.mean, other.m2, other.values), (profile.mean, profile.m2, profile.values)
            )
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        profile_frame(frame, baseline, threads=0)


PROFILE_THREADS_STARTED = """
import sys, threading
import numpy as np, pandas as pd
from monitoring_pipelines.stats.dataset import THREADED_ROWS, fit_baseline, profile_frame
rows = int(sys.argv[1])
frame = pd.DataFrame({f"x{i}": np.random.default_rng(i).normal(size=rows) for i in range(4)})
profile_frame(frame, fit_baseline(frame.iloc[:1_000], dict.fromkeys(frame, "numerical")), threads=2)
print(sum(t.name.startswith("profile") for t in threading.enumerate()))
"""


@pytest.mark.parametrize("rows, started", [(THREADED_ROWS - 1, False), (THREADED_ROWS, True)])
def test_a_small_chunk_is_profiled_without_the_threads(rows, started):
    """Handing a small chunk's columns to threads cost more than the work: they stay here."""
    run = subprocess.run(
        [sys.executable, "-c", PROFILE_THREADS_STARTED, str(rows)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert (int(run.stdout) > 0) is started


@pytest.mark.parametrize("order", ["sorted", "outlier first"])
def test_moments_stay_exact_when_sub_blocks_differ_or_the_first_value_is_far_out(order):
    rng = np.random.default_rng(9)
    x = 1e6 + rng.lognormal(0.0, 2.0, 300_000)
    x = np.sort(x) if order == "sorted" else np.concatenate(([1e12], x))
    ours = kernel.count(x, quantile_edges(x[:1000], 10), None)
    mean = math.fsum(x) / x.size
    m2 = math.fsum((x - mean) ** 2)
    assert ours.mean == pytest.approx(mean, abs=1e-15 * np.abs(x).max())  # an ulp of the scale
    assert ours.m2 == pytest.approx(m2, rel=1e-12)


@pytest.mark.parametrize("distinct", [2, 2047, 2048, 2049, 5000])
def test_new_values_of_a_discrete_column_are_counted_exactly_however_many(distinct):
    # up to half the hash table's slots in the compiled pass, beyond that numpy's sort
    assert kernel.NEW_VALUE_SLOTS // 2 == 2048
    rng = np.random.default_rng(14)
    baseline = fit_numerical(rng.integers(0, 5, 1000).astype(np.float64), 40)
    assert baseline.discrete and 0.0 in baseline.reference_values
    x = rng.integers(0, 5, 100_000).astype(np.float64)
    new = 5.0 + np.arange(distinct - 2) * 0.25  # and two more: on the last edge, below
    x[rng.choice(x.size, 3 * new.size, replace=False)] = np.repeat(new, 3)
    x[:6] = [np.nan, np.inf, -np.inf, -0.0, baseline.edges[-2], -1e6]  # -0.0 is 0.0
    assert_same(x, baseline.edges, baseline.reference_values)
    ours = kernel.count(x, baseline.edges, baseline.reference_values)
    assert len(ours.values) == 5 + distinct


def test_new_values_next_to_baseline_values_and_signed_zero():
    values = np.array([-2.0, 1.0, 3.0])  # 0.0 is no baseline value here
    baseline = fit_numerical(np.repeat(values, 4), 40)
    assert baseline.discrete
    x = np.concatenate(
        (
            np.repeat(values, 10),
            np.nextafter(values, -np.inf),
            np.nextafter(values, np.inf),
            [-0.0, 0.0, -0.0, 5e-324, -5e-324, np.nan, np.inf, -np.inf],
        )
    )
    np.random.default_rng(15).shuffle(x)
    ours = kernel.count(x, baseline.edges, baseline.reference_values)
    assert ours.values[0.0] == 3  # both zeros of x, counted as one new value 0.0
    assert [math.copysign(1.0, v) for v in ours.values if v == 0.0] == [1.0]
    assert_same(x, baseline.edges, baseline.reference_values)
    for chunk in (x[np.isnan(x)], x[~np.isin(x, values) & np.isfinite(x)], x[:0]):
        assert_same(chunk, baseline.edges, baseline.reference_values)  # only new ones, empty


@settings(max_examples=200, deadline=None)
@given(
    st.lists(finite_floats, min_size=1, max_size=8),
    st.lists(st.one_of(finite_floats, special), max_size=8),
    st.lists(st.integers(0, 15), max_size=2000),
)
def test_discrete_columns_with_random_new_values_match_the_sort_path(reference, new, picks):
    baseline = fit_numerical(np.array(reference), 40)
    assert baseline.discrete
    pool = np.array([*baseline.reference_values, *new], dtype=np.float64)
    x = pool[np.array(picks, dtype=np.intp) % pool.size] if picks else np.empty(0)
    assert_same(x, baseline.edges, baseline.reference_values)


def test_nans_of_every_payload_and_sign_are_missing_and_infinities_land_outside():
    # NaNs whose top bits are those of ±inf share their table cells; the rest have cells of NaN
    bits = np.array(
        [0x7FF0_0000_0000_0001, 0x7FF0_FFFF_FFFF_FFFF, 0x7FF8_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF,
         0xFFF0_0000_0000_0001, 0xFFF8_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF],
        dtype=np.uint64,
    )  # fmt: skip
    nans = bits.view(np.float64)
    assert np.isnan(nans).all()
    edges = quantile_edges(np.random.default_rng(16).normal(size=1000), 10)
    x = np.concatenate((np.tile(nans, 50), [np.inf, -np.inf, np.inf, 0.5, -0.5, 1e150, -1e150]))
    np.random.default_rng(17).shuffle(x)
    ours = kernel.count(x, edges, None)
    assert (ours.missing, ours.pos_inf, ours.neg_inf, ours.n_finite) == (350, 2, 1, 4)
    assert (ours.min, ours.max) == (-1e150, 1e150)
    assert_same(x, edges)
    assert_same(x, np.array([-np.inf, 0.0, np.inf]), (0.0,))
