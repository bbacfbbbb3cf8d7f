"""Data-quality validation of each hour's raw batch with great-expectations.

Expectations are learned from the baseline profile (schema, missing rate, value
range, allowed categories). A :class:`BatchValidator` keeps the rows of the windows it is
shown (their monitored columns, typed) and validates up to ``batch_rows`` of them at a
time, many hours in one validation: great-expectations' cost is mostly per expectation per
validation, not per row. A validation covers a few columns (``COLUMNS_PER_VALIDATION``),
on a frame of those columns alone: the pandas engine copies the whole frame for each
expectation to drop the missing rows, so a 22-column frame was copied 22 times whole. It
runs through a plain great-expectations ``Validator`` (a ``ValidationDefinition`` would
also serialise every result, unexpected-row indices included, into its store). Each
window's counts come from the validation's own unexpected-row indices, so every hour is
still judged on all of its rows and on nothing else, with bounded memory. No Dagster here:
``defs`` turns outcomes into asset checks.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from monitoring_pipelines.stats.dataset import DatasetProfile, reference_categories
from monitoring_pipelines.stats.profile import (
    CategoricalProfile,
    NumericalProfile,
    category_key,
    to_float,
)

CHECKS = {
    "raw_schema": "every monitored column is present in the hour's logs",
    "raw_missing_values": "missing rate at most twice the baseline's plus 2 points",
    "raw_value_ranges": "99% of numerical values within the baseline's range widened by half",
    "raw_allowed_categories": "95% of categorical values among the baseline's categories",
}
RANGE_MOSTLY = 0.99
CATEGORY_MOSTLY = 0.95
# Columns per validation: the pandas engine copies the validated frame once per expectation
# (to drop missing rows), and fingerprints it (with its index) once per validation.
COLUMNS_PER_VALIDATION = 4
BATCH_ROWS = 500_000  # rows per validation: ~50 hours of 10,000 rows, ~70 MB of typed columns
NOT_NULL = "ExpectColumnValuesToNotBeNull"
# The unexpected rows' positions (to count them per window) and nothing row-sized besides.
RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}


@dataclass
class Tally:
    """Running counts of one expectation on one column across chunks."""

    check: str
    column: str
    mostly: float
    elements: int = 0
    unexpected: int = 0
    missing_column: bool = False

    @property
    def unexpected_fraction(self) -> float:
        return self.unexpected / self.elements if self.elements else 0.0

    @property
    def passed(self) -> bool:
        return not self.missing_column and self.unexpected_fraction <= 1.0 - self.mostly + 1e-12


@dataclass(frozen=True)
class CheckOutcome:
    """One check over a window: passed, and the columns that failed with their numbers."""

    check: str
    passed: bool
    failures: tuple[Tally, ...]
    tallies: tuple[Tally, ...] = field(repr=False)


@cache
def _gx():
    """great-expectations, imported on first use (it takes seconds to import)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.validator.v1_validator import Validator

    return gx, ProgressBarsConfig, Validator


class BatchValidator:
    """Runs the baseline's expectations on the rows of many windows at once and tallies the
    results per window, a few columns per validation (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        baseline: DatasetProfile,
        batch_rows: int = BATCH_ROWS,
        columns_per_validation: int = COLUMNS_PER_VALIDATION,
    ) -> None:
        gx, progress_bars, self._validator = _gx()
        self._gx = gx
        self.name = name
        self.baseline = baseline
        self.batch_rows = batch_rows
        self.columns_per_validation = columns_per_validation
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = progress_bars(globally=False, metric_calculations=False)
        self._batch = (
            context.data_sources.add_pandas(f"{name}_logs")
            .add_dataframe_asset("hour")
            .add_batch_definition_whole_dataframe("chunk")
        )
        self._specs: dict[tuple[str, str], tuple[str, float]] = {}
        self._expectations: dict[str, list] = {}  # per column
        for expectation, check in _expectations(gx, baseline):
            self._expectations.setdefault(expectation.column, []).append(expectation)
            key = (type(expectation).__name__, expectation.column)
            self._specs[key] = (check, expectation.mostly)
        self._suites: dict[tuple[str, ...], object] = {}
        self._tallies: dict[Hashable, dict[tuple[str, str], Tally]] = {}
        self._absent: dict[Hashable, set[str]] = {}
        # per column: the kept chunks' typed values, each with its window
        self._pending: dict[str, list[tuple[Hashable, np.ndarray | pd.Categorical]]] = {}
        self._pending_rows = 0

    def observe(self, window: Hashable, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Pass a window's chunks through unchanged, keeping their rows for validation."""
        for chunk in chunks:
            self.add(window, chunk)
            yield chunk

    def add(self, window: Hashable, chunk: pd.DataFrame) -> None:
        """Keep one chunk of ``window``; validate the kept rows once there are enough."""
        self._tallies.setdefault(window, {})
        self._absent.setdefault(window, set()).update(
            c for c in self.baseline.columns if c not in chunk.columns
        )
        typed = _typed(chunk, self.baseline)
        if not typed or not len(chunk):
            return
        for column, values in typed.items():
            self._pending.setdefault(column, []).append((window, values))
        self._pending_rows += len(chunk)
        if self._pending_rows >= self.batch_rows:
            self.flush()

    def discard(self, window: Hashable) -> None:
        """Forget a window (its logs could not be read to the end)."""
        self._tallies.pop(window, None)
        self._absent.pop(window, None)
        self._pending = {
            column: kept
            for column, parts in self._pending.items()
            if (kept := [(w, values) for w, values in parts if w != window])
        }

    def flush(self) -> None:
        """Validate the kept rows, a few columns per run (columns kept from the same chunks
        together), and add each window's counts to its tallies."""
        pending, self._pending, self._pending_rows = self._pending, {}, 0
        alike: dict[tuple, list[str]] = {}  # columns by the chunks they were kept from
        for column, parts in pending.items():
            alike.setdefault(tuple((w, len(values)) for w, values in parts), []).append(column)
        for columns in alike.values():
            for i in range(0, len(columns), self.columns_per_validation):
                group = tuple(columns[i : i + self.columns_per_validation])
                self._validate(group, {c: pending.pop(c) for c in group})

    def _validate(
        self,
        columns: tuple[str, ...],
        parts: dict[str, list[tuple[Hashable, np.ndarray | pd.Categorical]]],
    ) -> None:
        """Some columns' kept values (from the same chunks) in one validation of their
        expectations."""
        kept = parts[columns[0]]
        windows = list(dict.fromkeys(w for w, _ in kept))
        owner = np.repeat(
            np.array([windows.index(w) for w, _ in kept]), [len(values) for _, values in kept]
        )
        frame = pd.DataFrame({c: _concat([values for _, values in parts[c]]) for c in columns})
        validator = self._validator(self._batch, RESULT_FORMAT, {"dataframe": frame})
        result = validator.validate_expectation_suite(self._suite(columns))
        rows = np.bincount(owner, minlength=len(windows))
        unexpected: dict[tuple[str, str], np.ndarray] = {}
        for item in result.results:
            config = item.expectation_config
            key = (_class_name(config.type), config.kwargs["column"])
            if key in self._specs and item.result:
                positions = np.asarray(item.result["unexpected_index_list"], dtype=np.int64)
                unexpected[key] = np.bincount(owner[positions], minlength=len(windows))
        for key, counts in unexpected.items():
            check, mostly = self._specs[key]
            missing = 0 if check == "raw_missing_values" else unexpected[NOT_NULL, key[1]]
            elements = rows - missing  # great-expectations counts only non-null values
            for index, window in enumerate(windows):
                tally = self._tallies[window].setdefault(key, Tally(check, key[1], mostly))
                tally.elements += int(elements[index])
                tally.unexpected += int(counts[index])

    def _suite(self, columns: tuple[str, ...]):
        """The expectations of ``columns`` as one suite (built once per set of columns)."""
        if columns not in self._suites:
            self._suites[columns] = self._gx.ExpectationSuite(
                name=f"{self.name}_{'_'.join(columns)}",
                expectations=[e for c in columns for e in self._expectations[c]],
            )
        return self._suites[columns]

    def outcomes(self, window: Hashable) -> list[CheckOutcome]:
        """One outcome per check for ``window`` (validating any rows still kept first)."""
        self.flush()
        counted = self._tallies.get(window, {})
        tallies = [
            counted.get(key) or Tally(check, key[1], mostly)
            for key, (check, mostly) in self._specs.items()
        ] + [
            Tally("raw_schema", column, 1.0, missing_column=True)
            for column in sorted(self._absent.get(window, ()))
        ]
        outcomes = []
        for check in CHECKS:
            mine = tuple(t for t in tallies if t.check == check)
            failures = tuple(t for t in mine if not t.passed)
            outcomes.append(CheckOutcome(check, not failures, failures, mine))
        return outcomes


def _expectations(gx, baseline: DatasetProfile) -> Iterator[tuple[object, str]]:
    """The expectations learned from the baseline, each with the check it belongs to."""
    for column, profile in baseline.columns.items():
        rows = profile.count + profile.missing
        missing_rate = profile.missing / rows if rows else 0.0
        yield (
            gx.expectations.ExpectColumnValuesToNotBeNull(
                column=column, mostly=max(0.0, 1.0 - min(1.0, 2 * missing_rate + 0.02))
            ),
            "raw_missing_values",
        )
        if isinstance(profile, NumericalProfile) and math.isfinite(profile.min):
            half_span = max(profile.max - profile.min, abs(profile.max), 1.0) / 2
            yield (
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=profile.min - half_span,
                    max_value=profile.max + half_span,
                    mostly=RANGE_MOSTLY,
                ),
                "raw_value_ranges",
            )
        elif isinstance(profile, CategoricalProfile) and not profile.other:
            yield (
                gx.expectations.ExpectColumnValuesToBeInSet(
                    column=column,
                    value_set=list(reference_categories(profile)),
                    mostly=CATEGORY_MOSTLY,
                ),
                "raw_allowed_categories",
            )


def _class_name(expectation_type: str) -> str:
    """``expect_column_values_to_not_be_null`` → ``ExpectColumnValuesToNotBeNull``."""
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def _typed(chunk: pd.DataFrame, baseline: DatasetProfile) -> dict[str, np.ndarray | pd.Categorical]:
    """The monitored columns present, numbers as float (invalid → missing), categories as
    string keys in a pandas Categorical (great-expectations filters rows per expectation:
    codes are cheap to take, Arrow strings are not)."""
    columns: dict[str, np.ndarray | pd.Categorical] = {}
    for name, profile in baseline.columns.items():
        if name not in chunk.columns:
            continue
        if isinstance(profile, NumericalProfile):
            columns[name] = to_float(chunk[name])[0]
        else:
            columns[name] = _category_keys(chunk[name])
    return columns


def _category_keys(values: pd.Series) -> pd.Categorical:
    """The values' ``category_key`` strings as a Categorical with sorted categories (missing
    stays missing), keying each distinct value once instead of every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = np.array([category_key(u) for u in uniques.tolist()], dtype=object)
    categories, per_unique = np.unique(keys, return_inverse=True)
    mapped = np.append(per_unique.astype(np.int64), -1)[codes]  # code -1 (missing) stays -1
    return pd.Categorical.from_codes(mapped, categories=pd.Index(categories, dtype=object))


def _concat(parts: list[np.ndarray | pd.Categorical]) -> np.ndarray | pd.Categorical:
    """One column's kept values one after the other (categories merged, not decoded)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], pd.Categorical):
        return union_categoricals(parts)
    return np.concatenate(parts)
