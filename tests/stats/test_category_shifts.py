"""The top category shifts a drifted column's result shows: the categories of largest |change of
share| (ties by name), each share the exact quotient of its counts, equal to sorting every
category by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring_pipelines.stats.category_shift import category_shifts, value_shifts
from monitoring_pipelines.stats.profile import CategoricalProfile, NumericalProfile


def _by_hand(ref: dict, cur: dict, known: set, top: int) -> list[dict]:
    """Every category's shares as Python's int / int, all sorted by (-|change|, name)."""
    ref_total, cur_total = sum(ref.values()), sum(cur.values())
    rows = sorted(
        (-abs(cur.get(v, 0) / cur_total - ref.get(v, 0) / ref_total), v) for v in {*ref, *cur}
    )
    return [
        {
            "value": v,
            "reference_share": ref.get(v, 0) / ref_total,
            "current_share": cur.get(v, 0) / cur_total,
            "new": v not in known,
        }
        for _, v in rows[:top]
    ]


counts = st.dictionaries(
    st.sampled_from([f"c{i}" for i in range(12)]), st.integers(0, 6), min_size=1, max_size=12
)


@given(counts, counts, st.integers(1, 14))
def test_category_shifts_equal_sorting_every_category(ref, cur, top) -> None:
    """Small counts give many equal changes, so ties by name are exercised; the shares are
    compared exactly (``==`` on floats, and so on the result lists)."""
    if not sum(ref.values()) or not sum(cur.values()):
        return
    reference = CategoricalProfile(counts=ref)
    current = CategoricalProfile(counts=cur, reference_categories=tuple(ref))
    assert category_shifts(reference, current, top) == _by_hand(ref, cur, set(ref), top)


def test_new_categories_and_ties_by_hand() -> None:
    """c and b both lose a quarter (ties by name: b first); d is new and gains half."""
    reference = CategoricalProfile(counts={"c": 1, "a": 2, "b": 1})
    current = CategoricalProfile(counts={"a": 2, "d": 2}, reference_categories=("c", "a", "b"))
    got = category_shifts(reference, current, top=3)
    assert [(s["value"], s["new"]) for s in got] == [("d", True), ("b", False), ("c", False)]
    assert got[1]["reference_share"] == 0.25 and got[1]["current_share"] == 0.0


def test_value_shifts_of_a_discrete_column() -> None:
    edges = np.array([-np.inf, 1.5, np.inf])
    reference = NumericalProfile(
        edges, np.array([4, 6]), n_finite=10, values={1.0: 4, 2.0: 6}, mean=1.6
    )
    current = NumericalProfile(
        edges,
        np.array([1, 9]),
        n_finite=10,
        values={1.0: 1, 2.0: 5, 3.0: 4},
        mean=2.3,
        reference_values=(1.0, 2.0),
    )
    got = value_shifts(reference, current, top=2)
    assert got == _by_hand({"1": 4, "2": 6}, {"1": 1, "2": 5, "3": 4}, {"1", "2"}, 2)
    assert [s["value"] for s in got] == ["3", "1"]


def test_empty_sides_show_no_shift() -> None:
    reference = CategoricalProfile(counts={"a": 3})
    assert category_shifts(reference, CategoricalProfile(counts={})) == []
    with pytest.raises(ValueError, match="top"):
        category_shifts(reference, reference, top=0)
