"""One drift-sensor tick without Dagster: history → policy → outbox (alerts and metrics).

The sensor passes the drift results that are new since its cursor; this reads the alert
history, decides, and enqueues what can be delivered: alerts (always written, as they are
the alert history; ``skipped`` with the reason at once when Slack is not configured or no
channel is known), ``no_data`` alerts for quiet hours (``stats.no_data_policy``, their own
cooldown) and each window's CloudWatch metrics (only when CloudWatch is on). A
window's alerts share one channel, its worst severity's, so they form one message.
Re-running a tick enqueues nothing new: dedup keys are unique.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from monitoring_pipelines.alerts.slack import TOKEN_ENV
from monitoring_pipelines.pipeline.freshness import hours_freshness
from monitoring_pipelines.stats.alert_policy import (
    RESOLVED,
    AlertDecision,
    AlertSettings,
    DriftRecord,
    decide_alerts,
    severity_rank,
)
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.stats.freshness import DEFAULT_POLICY, Freshness, FreshnessPolicy
from monitoring_pipelines.stats.multivariate import MULTIVARIATE_BAND
from monitoring_pipelines.stats.no_data_policy import QuietHour, decide_no_data
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import read_drift_scores

HISTORY = timedelta(days=14)
SLACK_NOT_CONFIGURED = (
    f"Slack is not configured: set {TOKEN_ENV}, then `monitoring-pipelines redeliver --status "
    "skipped` to send it"
)


def no_channel(deployment_id: str) -> str:
    """Why a deployment's alerts cannot go to Slack although a token is set."""
    return (
        f"no Slack channel for {deployment_id}: set alerts.slack_channel in monitors.yaml "
        "or SLACK_CHANNEL"
    )


@dataclass(frozen=True)
class SlackRouting:
    """A deployment's Slack channel, optionally overridden per severity (monitors.yaml)."""

    channel: str | None = None
    by_severity: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> SlackRouting:
        """From the alerts block: ``slack_channel`` and ``severity_channels``."""
        return cls(config.get("slack_channel"), dict(config.get("severity_channels") or {}))

    def channel_for(self, severity: str) -> str | None:
        return self.by_severity.get(severity, self.channel)


@dataclass(frozen=True)
class Sinks:
    """Which channels can deliver now: a Slack token (and its default channel), CloudWatch."""

    slack: bool = True
    default_channel: str | None = None
    cloudwatch: bool = True

    def slack_skip(self, deployment_id: str, channel: str | None) -> str | None:
        """Why Slack cannot deliver a row for this deployment and channel, or None."""
        if not self.slack:
            return SLACK_NOT_CONFIGURED
        if not (channel or self.default_channel):
            return no_channel(deployment_id)
        return None


@dataclass(frozen=True)
class TickResult:
    """What the tick decided, which outbox rows it added, and which of them can be sent."""

    decision: AlertDecision
    alert_ids: tuple[int, ...]
    metrics_ids: tuple[int, ...]
    deliverable: int = 0
    quiet: tuple[QuietHour, ...] = ()


def _window_key(item) -> tuple:
    return (item.deployment_id, item.window_start, item.granularity)


def _categories(engine: Engine, alerts) -> dict[tuple, Any]:
    """(deployment, window, granularity, column, metric, reference, segment) → what the alerted
    result's message shows besides its numbers: the moved categories stored in its ``detail``
    (categorical drift), the band of the multivariate score, and for a segment the
    population's result of the same column and metric (key ending ``population``); read only
    for the windows that alert."""
    found: dict[tuple, Any] = {}
    for deployment, start, granularity in {_window_key(a) for a in alerts}:
        end = start + timedelta(microseconds=1)
        rows = read_drift_scores(engine, deployment, start, end, granularity, None, segment=None)
        for row in rows:
            detail = row["detail"] or {}
            result = (row["column_name"], row["metric"], row["reference"], row["segment"])
            if detail.get("categories"):
                found[(deployment, start, granularity, *result)] = detail["categories"]
            elif row["column_name"] == MULTIVARIATE and "mean_error" in detail:
                band = {k: detail[k] for k in MULTIVARIATE_BAND if k in detail}
                found[(deployment, start, granularity, *result)] = band
            if row["segment"] == ALL:
                population = {k: row[k] for k in ("value", "p_value", "threshold", "status")}
                found[(deployment, start, granularity, *result[:3], "population")] = population
    return found


def _payload(alert, found: Mapping[tuple, Any]) -> dict | None:
    """What an alert's message shows besides the numbers: moved categories, or the band; for
    a segment's alert also the population's number."""
    result = (alert.column_name, alert.metric, alert.reference)
    moved = found.get((*_window_key(alert), *result, alert.segment))
    payload = {}
    if moved:
        payload = {"multivariate" if alert.column_name == MULTIVARIATE else "categories": moved}
    if alert.segment != ALL:
        payload["segment"] = alert.segment
        population = found.get((*_window_key(alert), *result, "population"))
        if population is not None:
            payload["population"] = population
    return payload or None


def enqueue_drift(
    engine: Engine,
    records: Sequence[DriftRecord],
    settings: Mapping[str, AlertSettings],
    routing: Mapping[str, SlackRouting] | None = None,
    rows_scored: Mapping[tuple[str, datetime, str], int] | None = None,
    history: timedelta = HISTORY,
    sinks: Sinks = Sinks(),
    freshness: Mapping[str, FreshnessPolicy] | None = None,
) -> TickResult:
    """Decide alerts for ``records`` against the stored history and enqueue what ``sinks``
    can deliver. ``rows_scored`` maps (deployment, window start, granularity) to rows;
    ``freshness`` the deployments' freshness policies (the default one for others)."""
    if not records:
        return TickResult(AlertDecision((), ()), (), ())
    since = min(r.window_start for r in records) - history
    past = [
        item
        for deployment in sorted({r.deployment_id for r in records})
        for item in outbox.recent_history(engine, deployment, since)
    ]
    decision = decide_alerts(records, settings, past)
    routing = routing or {}
    worst: dict[tuple, str] = {}
    for alert in decision.alerts:
        key = _window_key(alert)
        if key not in worst or severity_rank(alert.severity) > severity_rank(worst[key]):
            worst[key] = alert.severity
    categories = _categories(engine, [a for a in decision.alerts if a.kind != RESOLVED])
    entries = []
    for alert in decision.alerts:
        channel = routing.get(alert.deployment_id, SlackRouting()).channel_for(
            worst[_window_key(alert)]
        )
        entries.append(
            outbox.alert_entry(
                alert,
                channel,
                payload=_payload(alert, categories),
                slack_skip=sinks.slack_skip(alert.deployment_id, channel),
            )
        )
    freshness = _freshness(engine, records, freshness or {})
    quiet = [
        QuietHour(deployment, start, end, judged)
        for (deployment, start, end), judged in freshness.items()
        if not judged.fresh
    ]
    cooldowns = {d: s.no_data_cooldown for d, s in settings.items()}
    last = outbox.last_no_data(engine, {h.deployment_id for h in quiet}) if quiet else {}
    alerted, _ = decide_no_data(quiet, last, cooldowns)
    for hour in alerted:
        channel = routing.get(hour.deployment_id, SlackRouting()).channel_for(hour.severity)
        entries.append(
            outbox.no_data_entry(
                hour, channel, slack_skip=sinks.slack_skip(hour.deployment_id, channel)
            )
        )
    alert_ids = outbox.enqueue(engine, entries)
    metrics_ids = (
        _enqueue_metrics(engine, records, rows_scored or {}, freshness) if sinks.cloudwatch else []
    )
    new_rows = outbox.select_rows(engine, ids=alert_ids) if alert_ids else []
    deliverable = len(metrics_ids) + sum(r["slack_status"] == outbox.PENDING for r in new_rows)
    return TickResult(decision, tuple(alert_ids), tuple(metrics_ids), deliverable, tuple(alerted))


def _freshness(
    engine: Engine, records: Sequence[DriftRecord], policies: Mapping[str, FreshnessPolicy]
) -> dict[tuple[str, datetime, datetime], Freshness]:
    """Each hourly window's freshness, from the row counts stored in ``aggregates``."""
    windows = {
        (r.deployment_id, r.window_start, r.window_end) for r in records if r.granularity == "hour"
    }
    judged = {}
    for deployment in sorted({w[0] for w in windows}):
        ends = {start: end for d, start, end in windows if d == deployment}
        policy = policies.get(deployment, DEFAULT_POLICY)
        for start, freshness in hours_freshness(engine, deployment, ends, policy).items():
            judged[(deployment, start, ends[start])] = freshness
    return judged


def _status(freshness: Freshness | None) -> str | None:
    return None if freshness is None else freshness.status


def _enqueue_metrics(
    engine: Engine,
    records: Sequence[DriftRecord],
    rows_scored: Mapping[tuple[str, datetime, str], int],
    freshness: Mapping[tuple[str, datetime, datetime], Freshness],
) -> list[int]:
    windows: dict[tuple, list[DriftRecord]] = defaultdict(list)
    for record in records:
        key = (record.deployment_id, record.window_start, record.window_end, record.granularity)
        windows[key].append(record)
    return outbox.enqueue(
        engine,
        [
            outbox.metrics_entry(
                deployment,
                start,
                end,
                granularity,
                [vars(r) for r in window],
                rows_scored.get((deployment, start, granularity)),
                _status(freshness.get((deployment, start, end))),
            )
            for (deployment, start, end, granularity), window in windows.items()
        ],
    )
