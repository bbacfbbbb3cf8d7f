"""What a drift report shows: the baseline and production profiles of a period, its scores,
the hourly scores over time, model signals and performance. Pure data, no rendering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitoring_pipelines.report.segments import SegmentView
from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import INSUFFICIENT_DATA, UNDEFINED, DriftResult
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.model_signals import ModelSignals
from monitoring_pipelines.stats.scoring import drifted_columns

Scores = Mapping[str, Sequence[DriftResult]]


@dataclass(frozen=True)
class HourScores:
    """The results of one hourly window, for the score-over-time charts."""

    start: datetime
    scores: Scores


@dataclass(frozen=True)
class BaselineVersion:
    """The stored baseline version a report (or part of one) is judged against: its number
    (1 = the deployment's first), the time it was computed, and whether it is the latest."""

    number: int
    computed_at: datetime
    latest: bool

    def label(self) -> str:
        when = f"{self.computed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        return f"v{self.number} (computed {when}{', the latest' if self.latest else ''})"


@dataclass(frozen=True)
class DriftReport:
    """Everything one report shows; ``scores`` judge ``current`` (the whole period) against
    ``baseline``, which is ``version`` when it came from the store."""

    title: str
    baseline: DatasetProfile
    current: DatasetProfile
    scores: Scores
    start: datetime | None = None
    end: datetime | None = None
    history: Sequence[HourScores] = ()
    signals: ModelSignals | None = None
    performance: Mapping[str, float] = field(default_factory=dict)
    version: BaselineVersion | None = None
    hours: int | None = None
    notes: Sequence[str] = ()
    segments: Sequence[SegmentView] = ()  # each segment beside the population (the store's)

    @property
    def drifted(self) -> list[str]:
        return drifted_columns(self.scores)

    @property
    def status(self) -> str:
        """``drift``, ``insufficient_data`` (no metric could be judged) or ``stable``."""
        if self.drifted:
            return "drift"
        judged = [r for rs in self.scores.values() for r in rs if r.status not in NOT_JUDGED]
        return "stable" if judged else INSUFFICIENT_DATA

    def top_drifted(self) -> str | None:
        """The drifted column with the largest value relative to its threshold."""
        return max(self.drifted, key=lambda c: severity(self.scores[c]), default=None)


@dataclass(frozen=True)
class SplitReport:
    """The report of a range whose hours were profiled against more than one baseline
    version (it spans a retraining): one part per version, oldest first, each scored against
    its own version. Hours of different versions cannot be merged (other bins)."""

    title: str
    start: datetime
    end: datetime
    parts: tuple[DriftReport, ...]
    notes: Sequence[str] = ()

    @property
    def drifted(self) -> list[str]:
        """The columns drifted in any part, in the order they first drifted."""
        return list(dict.fromkeys(c for part in self.parts for c in part.drifted))

    @property
    def status(self) -> str:
        """``drift`` when any part drifted, else ``stable`` when any part was judged."""
        statuses = {part.status for part in self.parts}
        if "drift" in statuses:
            return "drift"
        return "stable" if "stable" in statuses else INSUFFICIENT_DATA


Report = DriftReport | SplitReport


def sections(report: Report) -> tuple[DriftReport, ...]:
    """The parts of a report, each judged against one baseline (a plain report is one part)."""
    return report.parts if isinstance(report, SplitReport) else (report,)


def top_drifted(report: Report) -> tuple[DriftReport, str] | None:
    """The part and drifted column with the largest value relative to its threshold."""
    ranked = [
        (severity(part.scores[column]), -index, part, column)
        for index, part in enumerate(sections(report))
        if (column := part.top_drifted()) is not None
    ]
    if not ranked:
        return None
    *_, part, column = max(ranked, key=lambda item: item[:2])
    return part, column


NOT_JUDGED = {INSUFFICIENT_DATA, UNDEFINED}


def shown_value(result: DriftResult) -> float | None:
    """The number judged: the p-value of a test, the value of a distance."""
    return result.p_value if get_spec(result.metric).decision == "p_value" else result.value


def severity(results: Sequence[DriftResult]) -> float:
    """How far past its threshold the column's worst drifted metric is (1 = at the threshold)."""
    ratios = [0.0]
    for r in results:
        value = shown_value(r)
        if not r.drifted or value is None or not r.threshold:
            continue
        if get_spec(r.metric).decision == "p_value":
            ratios.append(r.threshold / max(value, 1e-300))
        else:
            ratios.append(value / r.threshold)
    return max(ratios)


def cell_class(result: DriftResult) -> str:
    """The table colour of one result: drift, warn (past the first band), ok or na."""
    if result.drifted:
        return "drift"
    if result.status in NOT_JUDGED:
        return "na"
    first_band = get_spec(result.metric).bands[0][1]
    return "ok" if result.status == first_band else "warn"
