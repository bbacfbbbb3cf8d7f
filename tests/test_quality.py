"""great-expectations validation of raw hours: expectations learned from the baseline, counts
tallied across chunks and compared with a direct pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.quality import HourValidator
from monitoring_pipelines.stats.dataset import fit_baseline

RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def validator() -> HourValidator:
    reference = pd.DataFrame(
        {
            "x": RNG.normal(0, 1, 4000),
            "c": RNG.choice(["a", "b"], 4000),
            "k": RNG.integers(0, 3, 4000),
        }
    )
    reference.loc[::20, "x"] = np.nan  # 5% missing in the baseline
    baseline = fit_baseline(reference, {"x": "numerical", "c": "categorical", "k": "categorical"})
    return HourValidator("unit", baseline)


def test_a_clean_hour_passes_every_check(validator):
    clean = pd.DataFrame(
        {
            "x": RNG.normal(0, 1, 3000),
            "c": RNG.choice(["a", "b"], 3000),
            "k": RNG.integers(0, 3, 3000),
        }
    )
    validator.reset()
    list(validator.observe([clean.iloc[:1000], clean.iloc[1000:]]))
    assert all(outcome.passed for outcome in validator.outcomes())


def test_failures_are_tallied_across_chunks(validator):
    bad = pd.DataFrame(
        {
            "x": RNG.normal(0, 1, 3000),
            "c": RNG.choice(["a", "b"], 3000),
            "k": RNG.integers(0, 3, 3000),
        }
    )
    bad.loc[::3, "x"] = np.nan  # 33% missing > 2 × 5% + 2%
    bad.loc[1::50, "x"] = 1e6  # 2% far out of range > 1% allowed
    bad.loc[::5, "c"] = "zzz"  # 20% unseen > 5% allowed
    chunks = [bad.iloc[:1000], bad.iloc[1000:2000], bad.iloc[2000:].drop(columns=["k"])]
    validator.reset()
    passed_through = list(validator.observe(chunks))
    assert sum(len(c) for c in passed_through) == 3000
    outcomes = {o.check: o for o in validator.outcomes()}

    assert [t.column for t in outcomes["raw_schema"].failures] == ["k"]
    (missing,) = outcomes["raw_missing_values"].failures
    assert (missing.column, missing.elements, missing.unexpected) == (
        "x",
        3000,
        int(bad["x"].isna().sum()),
    )
    (ranges,) = outcomes["raw_value_ranges"].failures
    assert ranges.unexpected == int((bad["x"] == 1e6).sum())
    assert ranges.elements == int(bad["x"].notna().sum())
    (categories,) = outcomes["raw_allowed_categories"].failures
    assert categories.unexpected == int((bad["c"] == "zzz").sum())


def test_integers_are_checked_as_their_category_keys(validator):
    frame = pd.DataFrame({"x": [0.0] * 10, "c": ["a"] * 10, "k": [0, 1, 2, 1, 0, 2, 1, 0, 2, 1]})
    validator.reset()
    validator.validate(frame)
    assert {o.check: o.passed for o in validator.outcomes()}["raw_allowed_categories"]
