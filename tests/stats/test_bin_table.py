"""The first level of the bin table, built from the edges' order keys, equals a search per cell."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring_pipelines.stats.bin_table import TOP_BITS, _starts, _top_starts

LARGEST = float(np.finfo(np.float64).max)
notable = st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2e-308, -2.2e-308, 1.0, -1.0, LARGEST])
any_float = st.floats(allow_nan=False, allow_infinity=False)


def searched(finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges below each cell's lowest value and inside it, by a search per cell."""
    return _starts(finite, np.arange(1 << TOP_BITS, dtype=np.uint64), TOP_BITS)


def assert_same_cells(finite: np.ndarray) -> None:
    below, inside = _top_starts(finite)
    expected_below, expected_inside = searched(finite)
    np.testing.assert_array_equal(below, expected_below)
    np.testing.assert_array_equal(inside, expected_inside)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(any_float, notable), max_size=80))
def test_first_level_equals_a_search_per_cell(values):
    finite = np.unique(np.array(values, dtype=np.float64))  # -0.0 and 0.0: one edge, either
    assert_same_cells(finite)


def test_edges_at_signed_zero_the_subnormals_and_the_float_range_ends():
    for finite in (
        np.array([-0.0]),
        np.array([0.0]),
        np.array([-5e-324, 0.0, 5e-324]),
        np.array([-5e-324, -0.0, 5e-324]),
        np.array([-LARGEST, -1.0, -0.0, 1e-310, LARGEST]),
        1000.0 + np.arange(40) / 64,  # crowded cells
        np.array([]),
    ):
        assert_same_cells(finite)
