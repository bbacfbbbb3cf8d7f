"""One performance-sensor tick without Dagster: new hours → rules → outbox.

For each newly written ``model_performance`` hour: the CloudWatch datums (when CloudWatch is
on; the population's: estimated accuracy at the hour's first computation, accuracy or RMSE,
latency p95 and labelled rows once, when its labels are final; see ``labels_final``), and
the performance alerts its ``performance_alerts`` rules decide for the population and for
each segment (``stats.performance_alerts``, cooldown from
the outbox's history), ``skipped`` at once when Slack cannot deliver them. Re-running a tick
enqueues nothing new: dedup keys are unique.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from monitoring_pipelines.alerts.evaluate import Sinks, SlackRouting
from monitoring_pipelines.config import DeploymentConfig, MonitorsConfig
from monitoring_pipelines.stats.performance import primary_metric
from monitoring_pipelines.stats.performance_alerts import (
    PerformanceAlert,
    WindowNumbers,
    decide_performance_alerts,
)
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.performance import WindowPerformance, read_window_segments
from monitoring_pipelines.store.windows import WrittenWindow

CLOUDWATCH_METRICS = ("accuracy", "rmse", "latency_p95")
ALL_SINKS = Sinks()


@dataclass(frozen=True)
class PerformanceTick:
    """What a tick decided and enqueued, and how many new rows a delivery can send."""

    alerts: tuple[PerformanceAlert, ...]
    alert_ids: tuple[int, ...]
    metrics_ids: tuple[int, ...]
    deliverable: int


def cloudwatch_values(window: WindowPerformance) -> dict[str, float]:
    """The hour's CloudWatch numbers: accuracy or RMSE, estimated accuracy, latency p95,
    labelled rows."""
    values = {m: window.realized[m] for m in CLOUDWATCH_METRICS if m in window.realized}
    if "accuracy" in window.estimated:
        values["estimated_accuracy"] = window.estimated["accuracy"]
    return values | {"labelled_rows": float(window.n_labelled)}


def labels_final(window: WindowPerformance, deployment: DeploymentConfig) -> bool:
    """Whether the hour's labels can no longer change: computed without labels, or with every
    label up to its end + ``label_horizon_hours`` (later labels are never joined)."""
    if window.labels_through is None or deployment.labels is None:
        return True
    horizon = timedelta(hours=deployment.labels.label_horizon_hours)
    return window.labels_through >= window.window_end + horizon


def enqueue_performance(
    engine: Engine,
    config: MonitorsConfig,
    windows: Sequence[WrittenWindow],
    routing: Mapping[str, SlackRouting],
    sinks: Sinks = ALL_SINKS,
) -> PerformanceTick:
    """Judge and enqueue the newly written hours of configured deployments (each segment's
    hour with the population's)."""
    stored: list[WindowPerformance] = []
    segments: list[tuple[WindowPerformance, WindowPerformance]] = []  # (segment, population)
    for written in windows:
        if written.deployment_id in config.ids:
            found = read_window_segments(engine, written.deployment_id, written.window_start)
            if ALL in found:
                stored.append(found[ALL])
                segments += [(w, found[ALL]) for s, w in found.items() if s != ALL]
    rules, numbers = {}, []
    for window, population in [(w, w) for w in stored] + segments:
        deployment = config.deployment(window.deployment_id)
        if deployment.performance_alerts is None:
            continue
        rules[deployment.id] = deployment.performance_alerts.rules()
        task = deployment.labels.task if deployment.labels else "binary"
        numbers.append(
            WindowNumbers(
                window.deployment_id,
                window.window_start,
                window.window_end,
                window.realized,
                window.estimated,
                window.n_labelled,
                primary_metric(task),
                window.baseline,
                window.segment,
                population.realized if window.segment != ALL else {},
            )
        )
    history = outbox.last_performance(engine, rules) if rules else []
    decided = decide_performance_alerts(numbers, rules, history)
    entries = []
    for alert in decided:
        channel = routing.get(alert.deployment_id, SlackRouting()).channel_for(alert.severity)
        skip = sinks.slack_skip(alert.deployment_id, channel)
        entries.append(outbox.performance_entry(alert, channel, slack_skip=skip))
    alert_ids = outbox.enqueue(engine, entries)
    of_window: dict[tuple[str, object], dict[str, dict[str, float]]] = {}
    for window, population in segments:
        key = (population.deployment_id, population.window_start)
        of_window.setdefault(key, {})[window.segment] = cloudwatch_values(window)
    metrics = [
        entry
        for w in stored
        for entry in outbox.performance_metrics_entries(
            w.deployment_id, w.window_start, w.window_end, cloudwatch_values(w),
            labels_final(w, config.deployment(w.deployment_id)),
            of_window.get((w.deployment_id, w.window_start)),
        )
    ]  # fmt: skip
    metrics_ids = outbox.enqueue(engine, metrics) if sinks.cloudwatch else []
    new_rows = outbox.select_rows(engine, ids=alert_ids) if alert_ids else []
    deliverable = len(metrics_ids) + sum(r["slack_status"] == outbox.PENDING for r in new_rows)
    return PerformanceTick(tuple(decided), tuple(alert_ids), tuple(metrics_ids), deliverable)
