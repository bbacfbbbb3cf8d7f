"""Data-quality validation of each hour's raw batch with great-expectations.

Expectations are learned from the baseline profile (schema, missing rate, value
range, allowed categories) and run chunk by chunk as the hour streams past; the
per-chunk counts add up, so an hour is judged on all of its rows without ever
holding them at once. No Dagster here: ``defs`` turns outcomes into asset checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

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
# BASIC still reports element, missing and unexpected counts, at half SUMMARY's cost.
RESULT_FORMAT = "BASIC"


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

    return gx, ProgressBarsConfig


class HourValidator:
    """Runs the baseline's expectations on chunks and tallies the results per window."""

    def __init__(self, name: str, baseline: DatasetProfile) -> None:
        gx, progress_bars = _gx()
        self.baseline = baseline
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = progress_bars(globally=False, metric_calculations=False)
        batch = (
            context.data_sources.add_pandas(f"{name}_logs")
            .add_dataframe_asset("hour")
            .add_batch_definition_whole_dataframe("chunk")
        )
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
        self._specs: dict[tuple[str, str], tuple[str, float]] = {}
        for expectation, check in _expectations(gx, baseline):
            suite.add_expectation(expectation)
            key = (type(expectation).__name__, expectation.column)
            self._specs[key] = (check, expectation.mostly)
        self._validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
        )
        self.reset()

    def reset(self) -> None:
        """Start a new window."""
        self._tallies = {
            key: Tally(check, key[1], mostly) for key, (check, mostly) in self._specs.items()
        }
        self._absent: set[str] = set()

    def observe(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Pass chunks through unchanged, validating each on the way."""
        for chunk in chunks:
            self.validate(chunk)
            yield chunk

    def validate(self, chunk: pd.DataFrame) -> None:
        """Validate one chunk and add its counts to the window's tallies."""
        self._absent |= {c for c in self.baseline.columns if c not in chunk.columns}
        typed = _typed(chunk, self.baseline)
        if typed.empty:
            return
        result = self._validation.run(
            batch_parameters={"dataframe": typed}, result_format=RESULT_FORMAT
        )
        for item in result.results:
            config = item.expectation_config
            tally = self._tallies.get((_class_name(config.type), config.kwargs["column"]))
            if tally is None or not item.result:
                continue
            elements = int(item.result.get("element_count", 0))
            if tally.check != "raw_missing_values":
                elements -= int(item.result.get("missing_count", 0) or 0)
            tally.elements += elements
            tally.unexpected += int(item.result.get("unexpected_count", 0) or 0)

    def outcomes(self) -> list[CheckOutcome]:
        """One outcome per check for the window validated since the last reset."""
        tallies = list(self._tallies.values()) + [
            Tally("raw_schema", column, 1.0, missing_column=True) for column in sorted(self._absent)
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


def _typed(chunk: pd.DataFrame, baseline: DatasetProfile) -> pd.DataFrame:
    """The monitored columns, numbers as float (invalid → missing), categories as string keys."""
    columns = {}
    for name, profile in baseline.columns.items():
        if name not in chunk.columns:
            continue
        if isinstance(profile, NumericalProfile):
            columns[name] = to_float(chunk[name])[0]
        else:
            values = chunk[name]
            columns[name] = values.map(category_key, na_action="ignore")
    return pd.DataFrame(columns, index=chunk.index)
