"""One drift-sensor tick without Dagster: history → policy → outbox (alerts and metrics).

The sensor passes the drift results that are new since its cursor; this reads the alert
history, decides, and enqueues the alerts (routed to a Slack channel) and each window's
CloudWatch metrics. Re-running a tick enqueues nothing new: dedup keys are unique.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from monitoring_pipelines.stats.alert_policy import (
    AlertDecision,
    AlertSettings,
    DriftRecord,
    decide_alerts,
)
from monitoring_pipelines.store import alerts as outbox

HISTORY = timedelta(days=14)


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
class TickResult:
    """What the tick decided and which outbox rows it added."""

    decision: AlertDecision
    alert_ids: tuple[int, ...]
    metrics_ids: tuple[int, ...]


def enqueue_drift(
    engine: Engine,
    records: Sequence[DriftRecord],
    settings: Mapping[str, AlertSettings],
    routing: Mapping[str, SlackRouting] | None = None,
    rows_scored: Mapping[tuple[str, datetime, str], int] | None = None,
    history: timedelta = HISTORY,
) -> TickResult:
    """Decide alerts for ``records`` against the stored history and enqueue everything.

    ``rows_scored`` maps (deployment, window start, granularity) to the window's row count.
    """
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
    alert_ids = outbox.enqueue(
        engine,
        [
            outbox.alert_entry(
                alert,
                routing.get(alert.deployment_id, SlackRouting()).channel_for(alert.severity),
            )
            for alert in decision.alerts
        ],
    )
    windows: dict[tuple, list[DriftRecord]] = defaultdict(list)
    for record in records:
        key = (record.deployment_id, record.window_start, record.window_end, record.granularity)
        windows[key].append(record)
    rows_scored = rows_scored or {}
    metrics_ids = outbox.enqueue(
        engine,
        [
            outbox.metrics_entry(
                deployment,
                start,
                end,
                granularity,
                [vars(r) for r in window],
                rows_scored.get((deployment, start, granularity)),
            )
            for (deployment, start, end, granularity), window in windows.items()
        ],
    )
    return TickResult(decision, tuple(alert_ids), tuple(metrics_ids))
