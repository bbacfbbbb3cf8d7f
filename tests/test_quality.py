"""great-expectations validation of raw hours: expectations learned from the baseline, counts
tallied across chunks and windows and compared with a direct pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.quality import BatchValidator, _category_keys
from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.stats.profile import category_key

RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def baseline():
    reference = pd.DataFrame(
        {
            "x": RNG.normal(0, 1, 4000),
            "c": RNG.choice(["a", "b"], 4000),
            "k": RNG.integers(0, 3, 4000),
        }
    )
    reference.loc[::20, "x"] = np.nan  # 5% missing in the baseline
    return fit_baseline(reference, {"x": "numerical", "c": "categorical", "k": "categorical"})


@pytest.fixture(scope="module")
def validator(baseline) -> BatchValidator:
    return BatchValidator("unit", baseline)


def _hour(rows: int, seed: int, missing: float, far: float, unseen: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, rows),
            "c": rng.choice(["a", "b"], rows),
            "k": rng.integers(0, 3, rows),
        }
    )
    frame.loc[rng.random(rows) < missing, "x"] = np.nan
    frame.loc[rng.random(rows) < far, "x"] = 1e6
    frame.loc[rng.random(rows) < unseen, "c"] = "zzz"
    return frame


def _counts(outcomes) -> dict[tuple[str, str], tuple[int, int, bool]]:
    return {
        (t.check, t.column): (t.elements, t.unexpected, t.passed)
        for o in outcomes
        for t in o.tallies
    }


def test_a_clean_hour_passes_every_check(validator):
    clean = _hour(3000, 1, 0.0, 0.0, 0.0)
    list(validator.observe("clean", [clean.iloc[:1000], clean.iloc[1000:]]))
    assert all(outcome.passed for outcome in validator.outcomes("clean"))


def test_failures_are_tallied_across_chunks(validator):
    bad = _hour(3000, 2, 0.0, 0.0, 0.0)
    bad.loc[::3, "x"] = np.nan  # 33% missing > 2 × 5% + 2%
    bad.loc[1::50, "x"] = 1e6  # 2% far out of range > 1% allowed
    bad.loc[::5, "c"] = "zzz"  # 20% unseen > 5% allowed
    chunks = [bad.iloc[:1000], bad.iloc[1000:2000], bad.iloc[2000:].drop(columns=["k"])]
    passed_through = list(validator.observe("bad", chunks))
    assert sum(len(c) for c in passed_through) == 3000
    outcomes = {o.check: o for o in validator.outcomes("bad")}

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
    # the chunk without "k" counts for "k" neither as missing nor as rows
    assert _counts(outcomes.values())[("raw_missing_values", "k")] == (2000, 0, True)


def test_many_hours_in_one_validation_are_each_judged_on_their_own_rows(baseline):
    """Hours validated together (several per batch, one split across two batches) get the
    counts pandas finds on each hour alone; one bad hour fails alone."""
    hours = {h: _hour(700 + 37 * h, 10 + h, 0.04, 0.002, 0.01) for h in range(8)}
    hours[5] = _hour(900, 99, 0.30, 0.05, 0.40)  # the bad hour
    batched = BatchValidator("batched", baseline, batch_rows=2500)
    for h, frame in hours.items():
        list(batched.observe(h, [frame.iloc[:300], frame.iloc[300:]]))
    for h, frame in hours.items():
        got = _counts(batched.outcomes(h))
        x, c = frame["x"], frame["c"].astype(str)
        assert got[("raw_missing_values", "x")][:2] == (len(frame), int(x.isna().sum()))
        assert got[("raw_value_ranges", "x")][:2] == (int(x.notna().sum()), int((x == 1e6).sum()))
        assert got[("raw_allowed_categories", "c")][:2] == (len(frame), int((c == "zzz").sum()))
        assert all(o.passed for o in batched.outcomes(h)) == (h != 5)


def test_a_discarded_hour_leaves_the_others_alone(baseline):
    batched = BatchValidator("discard", baseline)
    good, bad = _hour(500, 3, 0.0, 0.0, 0.0), _hour(500, 4, 0.9, 0.0, 0.0)
    list(batched.observe("good", [good]))
    list(batched.observe("bad", [bad]))
    batched.discard("bad")
    assert _counts(batched.outcomes("good"))[("raw_missing_values", "x")] == (500, 0, True)
    assert all(t.elements == 0 for o in batched.outcomes("bad") for t in o.tallies)


def test_integers_are_checked_as_their_category_keys(validator):
    frame = pd.DataFrame({"x": [0.0] * 10, "c": ["a"] * 10, "k": [0, 1, 2, 1, 0, 2, 1, 0, 2, 1]})
    validator.add("ints", frame)
    assert {o.check: o.passed for o in validator.outcomes("ints")}["raw_allowed_categories"]


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([1, 1.0, "1", None, np.nan, "a", 2.5, "b", "a"], dtype=object),
        pd.Series(["x", None, "y", "x"], dtype="string"),
        pd.Series(pd.Categorical(["b", "a", None, "b"])),
        pd.Series([3.0, 4.0, np.nan, 3.0]),
        pd.Series([None, np.nan], dtype=object),
        pd.Series([], dtype=object),
    ],
)
def test_category_keys_equal_keying_every_row(values):
    """Keying each distinct value once gives what keying every row with pandas gives: the same
    keys (1 and 1.0 one key), the same missing rows, the same sorted categories."""
    expected = values.map(category_key, na_action="ignore").astype(object).astype("category")
    got = pd.Series(_category_keys(values))
    assert list(got.cat.categories) == list(expected.cat.categories)
    assert got.isna().tolist() == expected.isna().tolist()
    assert got.dropna().astype(str).tolist() == expected.dropna().astype(str).tolist()


def _validated_alone(baseline, name: str, frame: pd.DataFrame) -> dict:
    """The hour validated on its own with great-expectations, the whole suite on one frame
    of every column (as before the validations were batched and narrowed): per expectation,
    (check, column) → (non-null values, unexpected values) from great-expectations' result."""
    import great_expectations as gx

    from monitoring_pipelines.quality import _class_name, _expectations

    checks = {}
    expectations = []
    for expectation, check in _expectations(gx, baseline):
        expectations.append(expectation)
        checks[type(expectation).__name__, expectation.column] = check
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset("hour")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    result = batch.validate(suite, result_format="SUMMARY")
    counts = {}
    for item in result.results:
        key = (_class_name(item.expectation_config.type), item.expectation_config.kwargs["column"])
        if not item.result:  # the column is absent from the frame
            continue
        got = item.result
        present = got["element_count"] - (
            0 if key[0] == "ExpectColumnValuesToNotBeNull" else got["missing_count"]
        )
        counts[checks[key], key[1]] = (present, got["unexpected_count"], item.success)
    return counts


EXPECTED_FAILURES = {
    2: {"raw_missing_values"},
    3: {"raw_value_ranges"},
    4: {"raw_allowed_categories"},
    5: {"raw_schema"},
}


@pytest.mark.parametrize("columns_per_validation", [1, 2, 4])
def test_batched_narrow_validations_equal_each_hour_validated_alone(
    baseline, columns_per_validation
):
    """Hours validated together, a few columns per validation, in batches that split hours,
    give each hour the counts and verdicts great-expectations gives that hour validated alone
    on all its columns at once: clean hours, missing values, values out of range (±inf too),
    unseen categories, a column absent from a chunk."""
    hours = {h: _hour(600 + 53 * h, 40 + h, 0.03, 0.003, 0.01) for h in range(7)}
    hours[2] = _hour(800, 77, 0.40, 0.0, 0.0)  # missing values
    hours[3] = _hour(700, 78, 0.0, 0.08, 0.0)  # out of range
    hours[3].loc[::40, "x"] = np.inf
    hours[3].loc[1::40, "x"] = -np.inf
    hours[4] = _hour(900, 79, 0.0, 0.0, 0.30)  # unseen categories
    hours[4].loc[::7, "k"] = 9  # an unseen integer category
    batched = BatchValidator(
        "narrow", baseline, batch_rows=1500, columns_per_validation=columns_per_validation
    )
    for h, frame in hours.items():
        chunks = [frame.iloc[:250], frame.iloc[250:]]
        if h == 5:
            chunks[0] = chunks[0].drop(columns=["k"])  # "k" absent from one chunk of one hour
        list(batched.observe(h, chunks))
    for h, frame in hours.items():
        typed = pd.DataFrame(
            {
                "x": frame["x"],
                "c": frame["c"].map(category_key).astype("category"),
                "k": frame["k"].map(category_key).astype("category"),
            }
        )
        alone = _validated_alone(baseline, f"alone_{h}", typed)
        if h == 5:  # "k" is judged on the rows of the chunk that had it
            alone |= _validated_alone(baseline, f"alone_{h}_k", typed.iloc[250:][["k"]])
        outcomes = batched.outcomes(h)
        got = {
            (t.check, t.column): (t.elements, t.unexpected, t.passed)
            for o in outcomes
            for t in o.tallies
            if not t.missing_column
        }
        assert got == alone, h
        failed = {o.check for o in outcomes if not o.passed}
        assert failed == EXPECTED_FAILURES.get(h, set()), h
