"""A Prometheus ``/metrics`` endpoint of each deployment's latest numbers, read from the store
on every scrape (``monitoring-pipelines metrics``): drift detected, the largest drift score,
drifted columns, rows and freshness of the last profiled hour, and performance where labels
have arrived. A scrape target rather than a Pushgateway push: Prometheus then sees when the
exporter is down, and a stale value never outlives its source."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from wsgiref.simple_server import WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.pipeline.report import hourly_history
from monitoring_pipelines.pipeline.status import DeploymentStatus, deployment_status
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.performance import REALIZED
from monitoring_pipelines.store.schema import model_performance

HOUR = timedelta(hours=1)
DEFAULT_PORT = 9464  # the port Prometheus's wiki lists for Python exporters


def latest_performance(engine: Engine, deployment_id: str) -> dict[str, float]:
    """Each performance metric's value in its newest window."""
    table = model_performance.c
    newest = (
        select(table.metric, func.max(table.window_start).label("window_start"))
        .where(
            table.deployment_id == deployment_id,
            table.segment == ALL,
            table.kind == REALIZED,
            table.value.is_not(None),
        )
        .group_by(table.metric)
        .subquery()
    )
    query = select(table.metric, table.value).join(
        newest,
        (table.metric == newest.c.metric) & (table.window_start == newest.c.window_start),
    )
    query = query.where(
        table.deployment_id == deployment_id, table.segment == ALL, table.kind == REALIZED
    )
    query = query.order_by(table.metric)
    with engine.connect() as conn:
        return {metric: float(value) for metric, value in conn.execute(query)}


def max_drift_score(engine: Engine, status: DeploymentStatus) -> float | None:
    """The last hour's largest distance relative to its threshold (the value), as the
    ``max_drift_score`` metadata of ``drift_scores`` defines it."""
    if status.last_hour is None:
        return None
    hours = hourly_history(engine, status.deployment_id, status.last_hour, status.last_hour + HOUR)
    if not hours:
        return None
    window = WindowScores(
        status.deployment_id, "hour", hours[0].start, hours[0].start + HOUR, status.rows or 0,
        dict(hours[0].scores),
    )  # fmt: skip
    largest = window.max_drift
    return None if largest is None else largest[2]


class StoreCollector(Collector):
    """The gauges of every deployment, computed from the store at each scrape."""

    def __init__(self, engine: Engine, deployment_ids: Sequence[str]):
        self.engine = engine
        self.deployment_ids = list(deployment_ids)

    def collect(self) -> Iterator[Metric]:
        label = ["deployment"]
        drift = GaugeMetricFamily(
            "model_drift_detected", "1 when the last profiled hour drifted, else 0", labels=label
        )
        score = GaugeMetricFamily(
            "model_drift_score_max",
            "the last profiled hour's drift distance largest relative to its threshold",
            labels=label,
        )
        columns = GaugeMetricFamily(
            "model_drifted_columns", "columns drifted in the last profiled hour", labels=label
        )
        rows = GaugeMetricFamily("model_rows", "rows of the last profiled hour", labels=label)
        fresh = GaugeMetricFamily(
            "model_last_hour_end_timestamp_seconds",
            "end of the last profiled hour (Unix time; freshness = time() - this)",
            labels=label,
        )
        performance = GaugeMetricFamily(
            "model_performance",
            "each performance metric in its newest labelled window (accuracy, f1, rmse, ...)",
            labels=["deployment", "metric"],
        )
        for deployment_id in self.deployment_ids:
            status = deployment_status(self.engine, deployment_id)
            if status.last_hour is not None:
                drift.add_metric([deployment_id], float(status.status == "drift"))
                columns.add_metric([deployment_id], len(status.drifted_columns))
                rows.add_metric([deployment_id], status.rows or 0)
                fresh.add_metric([deployment_id], (status.last_hour + HOUR).timestamp())
            largest = max_drift_score(self.engine, status)
            if largest is not None:
                score.add_metric([deployment_id], largest)
            for metric, value in latest_performance(self.engine, deployment_id).items():
                performance.add_metric([deployment_id, metric], value)
        yield from (drift, score, columns, rows, fresh, performance)


def metrics_server(
    engine: Engine, deployment_ids: Sequence[str], host: str, port: int
) -> WSGIServer:
    """A WSGI server answering ``/metrics`` (call ``serve_forever``; port 0 picks a free one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine, deployment_ids))
    return make_server(host, port, make_wsgi_app(registry))
