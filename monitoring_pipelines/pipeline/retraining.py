"""The retraining decision from stored results, its outbox record, and the retraining call.

:func:`evaluate_retraining` reads a deployment's latest realized accuracy (and judged metric
beside the latest baseline version's) and its recent hourly drift from the store and asks
``stats.retraining.decide_retraining``. A decision to
retrain is written to the outbox (kind ``retraining``) keyed by deployment and the latest
window, and only when no retraining row of the deployment is younger than the cooldown, so
a decision is recorded, and acted on, once. :func:`call_retraining` runs the configured
callable (``module:function``) or POSTs to the webhook (retried by urllib3).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Engine, func, select
from urllib3.util.retry import Retry

from monitoring_pipelines.alerts.evaluate import Sinks, SlackRouting
from monitoring_pipelines.config import DeploymentConfig, RetrainingConfig
from monitoring_pipelines.stats.alert_policy import DriftRecord
from monitoring_pipelines.stats.performance import primary_metric
from monitoring_pipelines.stats.retraining import (
    RetrainingDecision,
    RetrainingPolicy,
    VersusBaseline,
    decide_retraining,
)
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.performance import (
    ESTIMATED,
    read_baseline_performance,
    window_values,
)
from monitoring_pipelines.store.schema import alerts

RETRAINING = outbox.RETRAINING
HOUR = timedelta(hours=1)
LOOKBACK = timedelta(days=7)
WEBHOOK_TIMEOUT_SECONDS = 30
NO_SINKS = Sinks(slack=False, cloudwatch=False)
NO_ROUTING = SlackRouting()


@dataclass(frozen=True)
class RetrainingOutcome:
    """A decision and, when it asked for retraining outside the cooldown, its outbox key."""

    decision: RetrainingDecision
    dedup_key: str | None
    latest_window: datetime | None
    outbox_ids: tuple[int, ...] = ()


def policy_of(settings: RetrainingConfig) -> RetrainingPolicy:
    """The pure policy of a ``retraining`` block."""
    return RetrainingPolicy(
        accuracy_floor=settings.accuracy_floor,
        baseline_margin=settings.baseline_margin,
        min_drifted_features=settings.min_drifted_features,
        consecutive_windows=settings.consecutive_windows,
        estimated_accuracy_floor=settings.estimated_accuracy_floor,
        estimated_hours=settings.estimated_hours,
    )


def latest_value(
    engine: Engine, deployment_id: str, now: datetime, name: str = "accuracy", min_labelled: int = 0
) -> float | None:
    """The realized ``name`` of the latest hour (within a week of ``now``) that has one on at
    least ``min_labelled`` labelled rows."""
    values = [
        value
        for _, metric, value in window_values(
            engine, deployment_id, now - LOOKBACK, now, min_labelled=min_labelled
        )
        if metric == name
    ]
    return values[-1] if values else None


def versus_baseline(
    engine: Engine, deployment: DeploymentConfig, now: datetime
) -> VersusBaseline | None:
    """The latest hour's judged metric beside the latest baseline version's (None without a
    labels block)."""
    if deployment.labels is None:
        return None
    metric = primary_metric(deployment.labels.task)
    baseline = read_baseline_performance(engine, deployment.id)
    least = deployment.retraining.min_labelled_rows if deployment.retraining else 0
    return VersusBaseline(
        metric,
        latest_value(engine, deployment.id, now, metric, least),
        baseline.metrics.get(metric) if baseline else None,
    )


def evaluate_retraining(
    engine: Engine,
    deployment: DeploymentConfig,
    now: datetime,
    sinks: Sinks = NO_SINKS,
    routing: SlackRouting = NO_ROUTING,
) -> RetrainingOutcome:
    """Decide from the store as of ``now`` (the latest results' time) and, for a decision to
    retrain outside the cooldown (wall-clock hours since the last recorded one), record it:
    a Slack row (``skipped`` with the reason when ``sinks`` cannot deliver it) and, with
    CloudWatch on, a ``retraining_requested`` datum."""
    settings = deployment.retraining
    if settings is None:
        raise ValueError(f"deployment {deployment.id!r} has no retraining block in monitors.yaml")
    rows = read_drift_scores(engine, deployment.id, now - LOOKBACK, now, "hour")
    records = [DriftRecord.from_mapping(row) for row in rows]
    alerting = {r.window_start for r in records if r.drifted}
    decision = decide_retraining(
        deployment.id,
        policy_of(settings),
        accuracy=latest_value(engine, deployment.id, now, min_labelled=settings.min_labelled_rows),
        drift=records,
        alerting_windows=alerting,
        versus_baseline=versus_baseline(engine, deployment, now),
        estimated=[
            (start, value)
            for start, metric, value in window_values(
                engine, deployment.id, now - LOOKBACK, now, ESTIMATED
            )
            if metric == "accuracy"
        ],
    )
    latest = max((r.window_start for r in records), default=None)
    if not decision.retrain or _in_cooldown(engine, deployment.id, settings.cooldown_hours):
        return RetrainingOutcome(decision, None, latest)
    window = latest or now.replace(minute=0, second=0, microsecond=0) - HOUR
    channel = routing.channel_for("warning")
    entries = outbox.retraining_entries(
        deployment.id,
        window,
        decision.reasons,
        settings.dry_run,
        channel,
        slack_skip=sinks.slack_skip(deployment.id, channel),
        cloudwatch=sinks.cloudwatch,
    )
    new = outbox.enqueue(engine, entries)
    key = entries[0]["dedup_key"]
    return RetrainingOutcome(decision, key if new else None, latest, tuple(new))


def _in_cooldown(engine: Engine, deployment_id: str, hours: float) -> bool:
    """Whether a retraining decision of the deployment was recorded in the last ``hours``."""
    query = select(func.count()).where(
        alerts.c.deployment_id == deployment_id,
        alerts.c.kind == RETRAINING,
        alerts.c.created_at > datetime.now(UTC) - timedelta(hours=hours),
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def call_retraining(
    settings: RetrainingConfig, deployment_id: str, reasons: list[str]
) -> Mapping[str, Any]:
    """Run the configured retraining and return what it answered."""
    if settings.callable is not None:
        module, name = settings.callable.split(":")
        function = getattr(importlib.import_module(module), name)
        answer = function(deployment_id=deployment_id, reasons=reasons)
        return {"callable": settings.callable, "answer": answer}
    url = os.environ.get(settings.webhook_url_env or "")
    if not url:
        raise RuntimeError(
            f"deployment {deployment_id!r}: retraining.webhook_url_env names "
            f"{settings.webhook_url_env}, which is not set"
        )
    retry = Retry(
        total=3, backoff_factor=0.5, status_forcelist=(502, 503, 504), allowed_methods=None
    )
    body = {
        "deployment_id": deployment_id,
        "reasons": reasons,
        "requested_at": datetime.now(UTC).isoformat(),
    }
    try:
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            response = session.post(url, json=body, timeout=WEBHOOK_TIMEOUT_SECONDS)
            response.raise_for_status()
    except requests.RequestException as error:  # its text holds the URL, which may be secret
        status = error.response.status_code if error.response is not None else "no answer"
        raise RuntimeError(
            f"deployment {deployment_id!r}: the retraining webhook failed ({status}, "
            f"{type(error).__name__})"
        ) from None
    return {"webhook_status": response.status_code, "answer": response.text[:2000]}
