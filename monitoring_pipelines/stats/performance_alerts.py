"""Performance alerts: a pure decision from one window's numbers, the baseline and the history.

A rule is ``{severity: bound}`` on one metric: accuracy, F1, ROC AUC, ... alert **below** the
bound; RMSE, MAE, log loss and latency percentiles **above** it; ``estimated_<metric>`` is
the CBPE estimate of ``<metric>`` (no labels needed). ``baseline_margin`` alerts when the
judged metric (accuracy, or RMSE) is worse than the baseline's by more than the bound.
Realized metrics are judged only with at least ``min_labelled_rows`` labels. The worst
severity crossed is the alert's; within ``cooldown`` (window time) of the last alert of the
same metric, only a higher severity alerts again. A segment's window (``region=eu``) is judged
by the same rules with its own history and cooldown, and its reason names the segment and
the population's value of the same metric beside its own. A segment's alert that copies the
population's (same window and metric, the population crossing the rule too, the segment not
worse than it) is not raised on its own: the population's alert lists it (``also_breaching``,
see ``fold_segments``), and a cooldown on the population's alert silences it with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import pairwise

from monitoring_pipelines.stats.alert_policy import SEVERITIES, severity_rank
from monitoring_pipelines.stats.performance import LOWER_IS_BETTER, shortfall
from monitoring_pipelines.stats.segments import ALL

CLASSIFICATION = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
)
# multiclass: no positive class, so macro averages; ROC AUC one-vs-rest and log loss need
# each class's probability (labels.probabilities)
MULTICLASS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
MULTICLASS_PROBABILITY = ("roc_auc_macro", "log_loss")
REGRESSION = ("rmse", "mae", "r2")
LATENCY = ("latency_p50", "latency_p95", "latency_p99")
ESTIMATED_PREFIX = "estimated_"
ESTIMATED = tuple(f"{ESTIMATED_PREFIX}{m}" for m in ("accuracy", "f1", "roc_auc"))
BASELINE_MARGIN = "baseline_margin"
UNIT_INTERVAL = (frozenset(CLASSIFICATION) | {"roc_auc_macro"}) - {"log_loss"} | frozenset(
    ESTIMATED
)


def rule_metrics(task: str | None, probabilities: bool = False) -> tuple[str, ...]:
    """The metrics a deployment with ``task`` (None: no labels) can have rules on;
    ``probabilities``: a multiclass model logs each class's probability."""
    if task is None:
        return LATENCY
    if task == "regression":
        return REGRESSION + LATENCY
    if task == "multiclass":
        return MULTICLASS + (MULTICLASS_PROBABILITY if probabilities else ()) + LATENCY
    return CLASSIFICATION + LATENCY + ESTIMATED


def lower_is_worse(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is the bad direction (accuracy yes, RMSE no)."""
    return metric.removeprefix(ESTIMATED_PREFIX) not in LOWER_IS_BETTER


def check_rule(field_name: str, metric: str, levels: Mapping[str, float]) -> None:
    """Refuse unknown severities, bounds outside [0, 1] where the metric lives there, and
    levels in the wrong order (critical must be the worse bound), naming ``field_name``."""
    if not levels:
        raise ValueError(f"{field_name}: expected {{severity: bound}}, got nothing")
    for severity, bound in levels.items():
        if severity not in SEVERITIES:
            raise ValueError(
                f"{field_name}.{severity}: unknown severity (choose one of {', '.join(SEVERITIES)})"
            )
        if metric in UNIT_INTERVAL and not 0 <= bound <= 1:
            raise ValueError(f"{field_name}.{severity}: {metric} lives in [0, 1], got {bound}")
        if metric == BASELINE_MARGIN and bound <= 0:
            raise ValueError(f"{field_name}.{severity}: a margin must be positive, got {bound}")
    ordered = sorted(levels.items(), key=lambda item: severity_rank(item[0]))
    worse_is_higher = metric == BASELINE_MARGIN or not lower_is_worse(metric)
    for (low, a), (high, b) in pairwise(ordered):
        if (b < a) if worse_is_higher else (b > a):
            relation = "above" if worse_is_higher else "below"
            raise ValueError(f"{field_name}: {high} {b} must be {relation} {low} {a}")


@dataclass(frozen=True)
class PerformanceRules:
    """A deployment's rules: metric → {severity: bound}, the baseline margin, label minimum."""

    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    baseline_margin: Mapping[str, float] = field(default_factory=dict)
    min_labelled_rows: int = 100
    cooldown: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class WindowNumbers:
    """One window's realized and estimated numbers (metric → value) and its labels."""

    deployment_id: str
    window_start: datetime
    window_end: datetime
    realized: Mapping[str, float]
    estimated: Mapping[str, float]
    n_labelled: int
    judged_metric: str = "accuracy"
    baseline: float | None = None
    segment: str = ALL
    population: Mapping[str, float] = field(default_factory=dict)  # a segment's: the population's


@dataclass(frozen=True)
class SegmentBreach:
    """A segment that crosses the population's rule too, not worse than the population."""

    segment: str
    value: float
    severity: str


@dataclass(frozen=True)
class PerformanceAlert:
    """A crossed rule: which metric, its value and bound, how bad, and why in words."""

    deployment_id: str
    window_start: datetime
    window_end: datetime
    metric: str
    value: float
    threshold: float
    severity: str
    reason: str
    segment: str = ALL
    also_breaching: tuple[SegmentBreach, ...] = ()  # the population's: folded segment alerts


@dataclass(frozen=True)
class LastPerformanceAlert:
    deployment_id: str
    metric: str
    severity: str
    window_start: datetime
    segment: str = ALL


def _crossed(
    value: float, levels: Mapping[str, float], lower_worse: bool
) -> tuple[str, float] | None:
    """The worst (severity, bound) that ``value`` crosses, or None."""
    crossed = None
    for severity, bound in sorted(levels.items(), key=lambda item: severity_rank(item[0])):
        bad = value < bound if lower_worse else value > bound
        if bad:
            crossed = (severity, bound)
    return crossed


def _value(numbers: WindowNumbers, metric: str, rules: PerformanceRules) -> float | None:
    """The window's value of ``metric`` if it may be judged (realized needs enough labels)."""
    if metric.startswith(ESTIMATED_PREFIX):
        return numbers.estimated.get(metric.removeprefix(ESTIMATED_PREFIX))
    if metric in LATENCY:
        return numbers.realized.get(metric)
    if numbers.n_labelled < rules.min_labelled_rows:
        return None
    return numbers.realized.get(metric)


def window_alerts(numbers: WindowNumbers, rules: PerformanceRules) -> list[PerformanceAlert]:
    """Every rule the window crosses (before the cooldown)."""
    found = []
    where = (numbers.deployment_id, numbers.window_start, numbers.window_end)
    for metric, levels in rules.thresholds.items():
        value = _value(numbers, metric, rules)
        crossed = None if value is None else _crossed(value, levels, lower_is_worse(metric))
        if crossed is None:
            continue
        severity, bound = crossed
        side = "below" if lower_is_worse(metric) else "above"
        reason = f"{metric}{_in(numbers)} {value:.4g} {side} {severity} bound {bound:.4g}"
        notes = []
        if not metric.startswith(ESTIMATED_PREFIX) and metric not in LATENCY:
            notes.append(f"{numbers.n_labelled:,} labelled rows")
        if numbers.segment != ALL and metric in numbers.population:
            notes.append(f"population {numbers.population[metric]:.4g}")
        reason += f" ({'; '.join(notes)})" if notes else ""
        found.append(
            PerformanceAlert(*where, metric, value, bound, severity, reason, numbers.segment)
        )
    value = _value(numbers, numbers.judged_metric, rules)
    if rules.baseline_margin and value is not None and numbers.baseline is not None:
        worse = shortfall(numbers.judged_metric, value, numbers.baseline)
        crossed = _crossed(worse, rules.baseline_margin, lower_worse=False)
        if crossed is not None:
            severity, bound = crossed
            reason = (
                f"{numbers.judged_metric}{_in(numbers)} {value:.4g} is {worse:.4g} worse than "
                f"the baseline {numbers.baseline:.4g} (margin {bound:.4g})"
            )
            alert = PerformanceAlert(
                *where, BASELINE_MARGIN, worse, bound, severity, reason, numbers.segment
            )
            found.append(alert)
    return found


def _in(numbers: WindowNumbers) -> str:
    return "" if numbers.segment == ALL else f" in {numbers.segment}"


def not_worse(metric: str, value: float, population: float) -> bool:
    """Whether a segment's ``value`` of ``metric`` is at least as good as the population's:
    ``>=`` for accuracy, F1, AUC, ...; ``<=`` for RMSE, log loss, latency and the baseline
    margin (a shortfall)."""
    worse_is_higher = metric == BASELINE_MARGIN or not lower_is_worse(metric)
    return value <= population if worse_is_higher else value >= population


MAX_NAMED = 5


def fold_segments(found: Iterable[PerformanceAlert]) -> list[PerformanceAlert]:
    """Fold each segment's alert into the population's of the same deployment, window and
    metric when the segment is not worse (``not_worse``): the population's alert lists it in
    ``also_breaching`` and its reason names it. A worse segment, or one whose population does
    not alert on the metric, keeps its own alert. Order is kept."""
    found = list(found)

    def key(alert: PerformanceAlert) -> tuple:
        return (alert.deployment_id, alert.window_start, alert.metric)

    population = {key(a): a for a in found if a.segment == ALL}
    folded: dict[tuple, list[SegmentBreach]] = {}
    kept = []
    for alert in found:
        ours = population.get(key(alert)) if alert.segment != ALL else None
        if ours is not None and not_worse(alert.metric, alert.value, ours.value):
            folded.setdefault(key(alert), []).append(
                SegmentBreach(alert.segment, alert.value, alert.severity)
            )
        else:
            kept.append(alert)
    out = []
    for alert in kept:
        also = tuple(folded.get(key(alert), ())) if alert.segment == ALL else ()
        if also:
            names = ", ".join(b.segment for b in also[:MAX_NAMED])
            more = f" and {len(also) - MAX_NAMED} more" if len(also) > MAX_NAMED else ""
            reason = f"{alert.reason}; also in {len(also)} segment(s), not worse: {names}{more}"
            alert = replace(alert, reason=reason, also_breaching=also)
        out.append(alert)
    return out


def decide_performance_alerts(
    windows: Iterable[WindowNumbers],
    rules: Mapping[str, PerformanceRules],
    history: Iterable[LastPerformanceAlert],
) -> list[PerformanceAlert]:
    """The alerts to send for ``windows`` (oldest first), each deployment with its rules,
    segments not worse than an alerting population folded into its alert (``fold_segments``);
    one within the cooldown of the last alert of its metric (and segment) only when more
    severe."""
    last = {(h.deployment_id, h.segment, h.metric): h for h in history}
    found = [
        alert
        for numbers in sorted(windows, key=lambda w: w.window_start)
        if numbers.deployment_id in rules
        for alert in window_alerts(numbers, rules[numbers.deployment_id])
    ]
    alerts = []
    for alert in fold_segments(found):
        deployment_rules = rules[alert.deployment_id]
        previous = last.get((alert.deployment_id, alert.segment, alert.metric))
        if previous is not None and (
            abs(alert.window_start - previous.window_start) < deployment_rules.cooldown
            and severity_rank(alert.severity) <= severity_rank(previous.severity)
        ):
            continue
        alerts.append(alert)
        last[(alert.deployment_id, alert.segment, alert.metric)] = LastPerformanceAlert(
            alert.deployment_id, alert.metric, alert.severity, alert.window_start, alert.segment
        )
    return alerts
