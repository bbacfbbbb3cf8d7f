"""What a drift report shows: the baseline and production profiles of a period, its scores,
the hourly scores over time, model signals and performance. Pure data, no rendering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

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
class DriftReport:
    """Everything one report shows; ``scores`` judge ``current`` (the whole period)."""

    title: str
    baseline: DatasetProfile
    current: DatasetProfile
    scores: Scores
    start: datetime | None = None
    end: datetime | None = None
    history: Sequence[HourScores] = ()
    signals: ModelSignals | None = None
    performance: Mapping[str, float] = field(default_factory=dict)
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
