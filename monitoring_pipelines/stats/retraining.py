"""Retraining policy: a pure decision from the latest signals and the recent alert history.

Any one trigger asks for retraining: accuracy below a floor, the judged metric (accuracy or
RMSE) worse than the baseline's by more than a margin, at least N drifted features in the
latest window, M consecutive alerting windows, or the estimated (CBPE) accuracy below a floor
for K hours in a row. The decision lists every reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitoring_pipelines.stats.alert_policy import DriftRecord
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.stats.performance import shortfall


@dataclass(frozen=True)
class RetrainingPolicy:
    """Triggers; None disables one."""

    accuracy_floor: float | None = None
    baseline_margin: float | None = None
    min_drifted_features: int | None = None
    consecutive_windows: int | None = None
    estimated_accuracy_floor: float | None = None
    estimated_hours: int = 3
    window: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        for name in ("min_drifted_features", "consecutive_windows", "estimated_hours"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.window <= timedelta(0):
            raise ValueError(f"window must be positive, got {self.window}")


@dataclass(frozen=True)
class VersusBaseline:
    """The latest window's judged metric and the baseline's (validation set) value of it."""

    metric: str
    value: float | None
    baseline: float | None


@dataclass(frozen=True)
class RetrainingDecision:
    """Whether to retrain ``deployment_id``, with the reasons for and against."""

    deployment_id: str
    retrain: bool
    reasons: tuple[str, ...]


def drifted_features(records: Iterable[DriftRecord]) -> tuple[datetime | None, frozenset[str]]:
    """The latest window start and the columns with any drifted metric in it (the
    multivariate pseudo-column is not a feature: it is left out)."""
    records = list(records)
    if not records:
        return None, frozenset()
    latest = max(r.window_start for r in records)
    return latest, frozenset(
        r.column_name
        for r in records
        if r.window_start == latest and r.drifted and r.column_name != MULTIVARIATE
    )


def consecutive_run(windows: Iterable[datetime], step: timedelta, end: datetime | None) -> int:
    """Length of the run of windows, ``step`` apart, ending at ``end`` (default: the latest)."""
    ordered = sorted(set(windows), reverse=True)
    if end is not None:
        ordered = [moment for moment in ordered if moment <= end]
        if not ordered or ordered[0] != end:
            return 0
    run = 0
    for i, moment in enumerate(ordered):
        if i and ordered[i - 1] - moment != step:
            break
        run += 1
    return run


def decide_retraining(
    deployment_id: str,
    policy: RetrainingPolicy,
    *,
    accuracy: float | None,
    drift: Iterable[DriftRecord],
    alerting_windows: Iterable[datetime],
    versus_baseline: VersusBaseline | None = None,
    estimated: Iterable[tuple[datetime, float]] = (),
) -> RetrainingDecision:
    """Decide from the latest accuracy (and judged metric against the baseline), the latest
    window's drift, the alerting windows and the hourly estimated accuracy.

    The alerting run must end at the latest drift window (when drift results are given).
    """
    drift = list(drift)
    latest, columns = drifted_features(drift)
    triggered: list[str] = []
    held: list[str] = []
    if policy.accuracy_floor is not None:
        if accuracy is None:
            held.append("accuracy unknown (no labelled rows yet)")
        elif accuracy < policy.accuracy_floor:
            triggered.append(f"accuracy {accuracy:.4g} below floor {policy.accuracy_floor:.4g}")
        else:
            held.append(f"accuracy {accuracy:.4g} at or above floor {policy.accuracy_floor:.4g}")
    if policy.baseline_margin is not None:
        _versus_baseline(policy.baseline_margin, versus_baseline, triggered, held)
    if policy.min_drifted_features is not None:
        text = f"{len(columns)} drifted features" + (
            f" in window {latest.isoformat()}" if latest else ""
        )
        if len(columns) >= policy.min_drifted_features:
            triggered.append(
                f"{text} ({', '.join(sorted(columns))}) >= {policy.min_drifted_features}"
            )
        else:
            held.append(f"{text} < {policy.min_drifted_features}")
    if policy.consecutive_windows is not None:
        run = consecutive_run(alerting_windows, policy.window, latest)
        text = f"{run} consecutive alerting windows"
        if run >= policy.consecutive_windows:
            triggered.append(f"{text} >= {policy.consecutive_windows}")
        else:
            held.append(f"{text} < {policy.consecutive_windows}")
    if policy.estimated_accuracy_floor is not None:
        _estimated_floor(policy, dict(estimated), triggered, held)
    return RetrainingDecision(deployment_id, bool(triggered), tuple(triggered or held))


def _versus_baseline(
    margin: float, versus: VersusBaseline | None, triggered: list[str], held: list[str]
) -> None:
    """The baseline rule's reason: worse than the baseline by more than ``margin``, or not."""
    if versus is None or versus.baseline is None:
        held.append("no baseline performance (validation set) to compare with")
        return
    if versus.value is None:
        held.append(f"{versus.metric} unknown (no labelled rows yet)")
        return
    worse = shortfall(versus.metric, versus.value, versus.baseline)
    text = (
        f"{versus.metric} {versus.value:.4g} vs baseline {versus.baseline:.4g}: "
        f"worse by {worse:.4g}"
    )
    if worse > margin:
        triggered.append(f"{text} > margin {margin:.4g}")
    else:
        held.append(f"{text} <= margin {margin:.4g}")


def _estimated_floor(
    policy: RetrainingPolicy,
    estimated: dict[datetime, float],
    triggered: list[str],
    held: list[str],
) -> None:
    """The CBPE rule: the run of hours below the floor that ends at the latest estimate."""
    if not estimated:
        held.append("no estimated accuracy yet")
        return
    floor, latest = policy.estimated_accuracy_floor, max(estimated)
    below = [moment for moment, value in estimated.items() if value < floor]
    run = consecutive_run(below, policy.window, latest)
    text = (
        f"estimated accuracy below {floor:.4g} for {run} consecutive hours "
        f"(latest {estimated[latest]:.4g})"
    )
    if run >= policy.estimated_hours:
        triggered.append(f"{text} >= {policy.estimated_hours}")
    else:
        held.append(f"{text} < {policy.estimated_hours}")
