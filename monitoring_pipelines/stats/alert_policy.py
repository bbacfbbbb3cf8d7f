"""Which drift results become alerts: severity, cooldown, escalation and resolved notices.

Pure: the drift sensor feeds it new results, the deployment's settings and the last alert
per (deployment, column, metric); it returns the alerts to enqueue and why others were not.
Cooldown is measured in window time (window starts), so backfills and replays decide alike.
A result's reference (training, last_week, ...) and segment (``region=eu``; ``__all__`` is
the population) are part of its identity: drift against last week and against training, or
of one region and of the population, have their own history, cooldown and dedup keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitoring_pipelines.stats.references import TRAINING
from monitoring_pipelines.stats.segments import ALL

SEVERITIES = ("info", "warning", "critical")
DRIFT = "drift"
RESOLVED = "resolved"
KINDS = (DRIFT, RESOLVED)
DEFAULT_SEVERITY_BY_STATUS = {
    "moderate": "warning",
    "concerning": "warning",
    "drifting": "warning",
    "significant": "critical",
    "critical": "critical",
}
INDETERMINATE_STATUSES = frozenset({"insufficient_data", "error"})


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in :data:`SEVERITIES` (higher is worse)."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}: choose one of {', '.join(SEVERITIES)}")
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class DriftRecord:
    """One drift result of one window, as stored in ``drift_scores``."""

    deployment_id: str
    window_start: datetime
    window_end: datetime
    granularity: str
    column_name: str
    metric: str
    value: float | None
    p_value: float | None
    threshold: float | None
    status: str
    drifted: bool
    reference: str = TRAINING
    segment: str = ALL

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> DriftRecord:
        """Build from a ``drift_scores`` row (extra keys ignored; no reference: training; no
        segment: the population)."""
        named = {"reference", "segment"}
        fields = {name: row[name] for name in cls.__dataclass_fields__ if name not in named}
        return cls(
            **fields,
            reference=row.get("reference") or TRAINING,
            segment=row.get("segment") or ALL,
        )


@dataclass(frozen=True)
class ThresholdRule:
    """Raise ``severity`` when the value reaches ``threshold`` (or the p-value falls below it)."""

    severity: str
    threshold: float
    statistic: str = "value"

    def __post_init__(self) -> None:
        severity_rank(self.severity)
        if self.statistic not in ("value", "p_value"):
            raise ValueError(
                f"unknown threshold statistic {self.statistic!r}: choose 'value' or 'p_value'"
            )

    def breached(self, record: DriftRecord) -> bool:
        if self.statistic == "p_value":
            return record.p_value is not None and record.p_value < self.threshold
        return record.value is not None and record.value >= self.threshold


@dataclass(frozen=True)
class AlertSettings:
    """One deployment's alerting rules (from the ``alerts`` block of ``monitors.yaml``).

    ``metrics`` / ``columns`` / ``references`` of None alert on all. ``rules`` (metric → rules) and
    ``column_rules`` (column → metric → rules) override the status mapping for that metric.
    """

    severity_by_status: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_BY_STATUS)
    )
    default_severity: str = "warning"
    min_severity: str = "warning"
    metrics: frozenset[str] | None = None
    columns: frozenset[str] | None = None
    references: frozenset[str] | None = None
    cooldown: timedelta = timedelta(hours=6)
    no_data_cooldown: timedelta = timedelta(hours=6)
    notify_resolved: bool = True
    rules: Mapping[str, tuple[ThresholdRule, ...]] = field(default_factory=dict)
    column_rules: Mapping[str, Mapping[str, tuple[ThresholdRule, ...]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        for severity in (
            self.default_severity,
            self.min_severity,
            *self.severity_by_status.values(),
        ):
            severity_rank(severity)
        for name in ("cooldown", "no_data_cooldown"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> AlertSettings:
        """Parse a ``monitors.yaml`` alerts block; unknown keys raise ValueError naming them."""
        known = {
            "severity_by_status",
            "default_severity",
            "min_severity",
            "metrics",
            "columns",
            "references",
            "cooldown_minutes",
            "no_data_cooldown_minutes",
            "notify_resolved",
            "thresholds",
            "column_thresholds",
        }
        unknown = sorted(set(config) - known - {"slack_channel", "severity_channels"})
        if unknown:
            raise ValueError(f"unknown alert settings {unknown}: valid keys are {sorted(known)}")
        kwargs: dict[str, Any] = {
            k: config[k]
            for k in ("severity_by_status", "default_severity", "min_severity", "notify_resolved")
            if k in config
        }
        for key in ("metrics", "columns", "references"):
            if config.get(key) is not None:
                kwargs[key] = frozenset(config[key])
        if "cooldown_minutes" in config:
            kwargs["cooldown"] = timedelta(minutes=float(config["cooldown_minutes"]))
        if "no_data_cooldown_minutes" in config:
            minutes = float(config["no_data_cooldown_minutes"])
            kwargs["no_data_cooldown"] = timedelta(minutes=minutes)
        kwargs["rules"] = _parse_rules(config.get("thresholds", {}))
        kwargs["column_rules"] = {
            column: _parse_rules(metrics)
            for column, metrics in config.get("column_thresholds", {}).items()
        }
        return cls(**kwargs)

    def rules_for(self, record: DriftRecord) -> tuple[ThresholdRule, ...] | None:
        per_column = self.column_rules.get(record.column_name, {})
        if record.metric in per_column:
            return per_column[record.metric]
        return self.rules.get(record.metric)

    def severity(self, record: DriftRecord) -> str | None:
        """The severity this record breaches, or None when it does not breach anything.

        Without explicit ``rules`` only a drifted record breaches, graded by its status band:
        the band comes from the metric's fixed interpretation table, while ``drifted`` is the
        threshold actually applied (the noise-calibrated one, larger on a small segment's
        window; for a test, the p-value after the window's multiple-testing correction), so
        a band above "stable" on a result that did not drift is noise, not an alert."""
        rules = self.rules_for(record)
        if rules is not None:
            hits = [rule.severity for rule in rules if rule.breached(record)]
            return max(hits, key=severity_rank) if hits else None
        if not record.drifted:
            return None
        return self.severity_by_status.get(record.status, self.default_severity)

    def watches(self, record: DriftRecord) -> bool:
        return (
            (self.metrics is None or record.metric in self.metrics)
            and (self.columns is None or record.column_name in self.columns)
            and (self.references is None or record.reference in self.references)
        )


def _parse_rules(block: Mapping[str, Any]) -> dict[str, tuple[ThresholdRule, ...]]:
    """``{metric: {severity: threshold}}`` or ``{metric: {p_value: {severity: threshold}}}``."""
    parsed = {}
    for metric, levels in block.items():
        if "p_value" in levels:
            rules = [ThresholdRule(s, float(t), "p_value") for s, t in levels["p_value"].items()]
        else:
            rules = [ThresholdRule(s, float(t)) for s, t in levels.items()]
        parsed[metric] = tuple(rules)
    return parsed


@dataclass(frozen=True)
class LastAlert:
    """The most recent alert of one (deployment, column, metric), from the outbox."""

    deployment_id: str
    column_name: str
    metric: str
    kind: str
    severity: str
    window_start: datetime
    reference: str = TRAINING
    segment: str = ALL


@dataclass(frozen=True)
class Alert:
    """An alert to enqueue; ``dedup_key`` identifies it across sensor restarts and retries."""

    deployment_id: str
    kind: str
    severity: str
    window_start: datetime
    window_end: datetime
    granularity: str
    column_name: str
    metric: str
    value: float | None
    p_value: float | None
    threshold: float | None
    status: str
    reason: str
    reference: str = TRAINING
    segment: str = ALL

    @property
    def dedup_key(self) -> str:
        """``deployment|granularity|window|column|metric|level``, then ``|reference`` when
        the reference is not training and ``|segment`` when it is not the population (keys of
        the population's training alerts are as they always were)."""
        level = RESOLVED if self.kind == RESOLVED else self.severity
        parts = (
            self.deployment_id,
            self.granularity,
            self.window_start.isoformat(),
            self.column_name,
            self.metric,
            level,
        )
        tail = () if self.reference == TRAINING else (self.reference,)
        tail += () if self.segment == ALL else (self.segment,)
        return "|".join(parts + tail)


@dataclass(frozen=True)
class Suppressed:
    """A result that did not become an alert, and why."""

    record: DriftRecord
    reason: str


@dataclass(frozen=True)
class AlertDecision:
    """What to enqueue and what was held back."""

    alerts: tuple[Alert, ...]
    suppressed: tuple[Suppressed, ...]


HistoryKey = tuple[str, str, str, str, str]


def history_key(item: DriftRecord | LastAlert | Alert) -> HistoryKey:
    return (item.deployment_id, item.column_name, item.metric, item.reference, item.segment)


def decide_alerts(
    records: Iterable[DriftRecord],
    settings: Mapping[str, AlertSettings],
    history: Iterable[LastAlert],
    default: AlertSettings | None = None,
) -> AlertDecision:
    """Alerts for new drift results, in window order, updating the history as it goes.

    A breach alerts unless the same (deployment, column, metric, reference) alerted at the same or a
    higher severity less than ``cooldown`` earlier (window time); an escalation always
    alerts. A stable result after an alert raises one ``resolved`` notice. Windows not
    after the last alert's window (replays, backfills) never alert.
    """
    last = {history_key(h): h for h in history}
    alerts: list[Alert] = []
    suppressed: list[Suppressed] = []
    ordered = sorted(
        records,
        key=lambda r: (
            r.window_start,
            r.deployment_id,
            r.column_name,
            r.metric,
            r.reference,
            r.segment,
        ),
    )
    for record in ordered:
        rules = settings.get(record.deployment_id, default)
        if rules is None:
            suppressed.append(Suppressed(record, f"no alert settings for {record.deployment_id}"))
            continue
        alert, reason = _judge(record, rules, last.get(history_key(record)))
        if alert is None:
            suppressed.append(Suppressed(record, reason))
            continue
        alerts.append(alert)
        last[history_key(record)] = LastAlert(
            record.deployment_id,
            record.column_name,
            record.metric,
            alert.kind,
            alert.severity,
            record.window_start,
            record.reference,
            record.segment,
        )
    return AlertDecision(tuple(alerts), tuple(suppressed))


def _judge(
    record: DriftRecord, settings: AlertSettings, previous: LastAlert | None
) -> tuple[Alert | None, str]:
    if not settings.watches(record):
        return (
            None,
            f"{record.metric} on {record.column_name} against {record.reference} is not watched",
        )
    if record.status in INDETERMINATE_STATUSES:
        return None, f"status {record.status}: nothing to judge"
    if previous is not None and record.window_start <= previous.window_start:
        return None, (
            f"not after the last alert's window {previous.window_start.isoformat()}"
            " (a replay or backfill is not alerted again)"
        )
    severity = settings.severity(record)
    if previous is not None and previous.kind != DRIFT:
        previous = None
    if severity is None:
        if previous is not None and settings.notify_resolved:
            return _alert(record, RESOLVED, "info", "returned to stable after an alert"), ""
        return None, "stable"
    if severity_rank(severity) < severity_rank(settings.min_severity):
        return None, f"severity {severity} below min_severity {settings.min_severity}"
    if previous is None:
        return _alert(record, DRIFT, severity, f"{record.status}: severity {severity}"), ""
    if severity_rank(severity) > severity_rank(previous.severity):
        reason = f"escalated from {previous.severity} to {severity}"
        return _alert(record, DRIFT, severity, reason), ""
    elapsed = record.window_start - previous.window_start
    if elapsed < settings.cooldown:
        return None, (
            f"cooldown: {previous.severity} alert for window {previous.window_start.isoformat()}"
            f" is {elapsed} earlier, cooldown {settings.cooldown}"
        )
    reason = f"still {severity} after cooldown {settings.cooldown}"
    return _alert(record, DRIFT, severity, reason), ""


def _alert(record: DriftRecord, kind: str, severity: str, reason: str) -> Alert:
    return Alert(
        deployment_id=record.deployment_id,
        kind=kind,
        severity=severity,
        window_start=record.window_start,
        window_end=record.window_end,
        granularity=record.granularity,
        column_name=record.column_name,
        metric=record.metric,
        value=record.value,
        p_value=record.p_value,
        threshold=record.threshold,
        status=record.status,
        reason=reason,
        reference=record.reference,
        segment=record.segment,
    )
