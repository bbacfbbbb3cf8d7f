"""A drift-scores store, a monitors.yaml and the drift_threshold_sensor evaluated on them
(with configured or unconfigured sinks), shared by the sensor and alert-job tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import yaml

from monitoring_pipelines.defs.alert_resources import CloudWatchResource, SlackResource
from monitoring_pipelines.defs.alerting import alert_delivery_job
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.sensors.drift_threshold import build_drift_threshold_sensor
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import write_drift_scores
from monitoring_pipelines.store.engine import get_engine
from tests.fakes.credentials import fake_slack_token

HOUR = timedelta(hours=1)
T0 = datetime(2026, 11, 2, tzinfo=UTC)
PSI = {"no_drift": 0.03, "moderate": 0.17, "significant": 0.42}
# Configured sinks (the sensor only checks that they are; nothing is sent while ticking).
LIVE_SINKS = {
    "slack": SlackResource(token=fake_slack_token()),
    "cloudwatch": CloudWatchResource(namespace="Harness"),
}
ALERTS = {
    "slack_channel": "C0MODELS1",
    "severity_channels": {"critical": "C0CRITIC1"},
    "cooldown_minutes": 120,
}


def write_config(folder: Path, ids: list[str], alerts: dict | None = None) -> Path:
    deployments = [
        {
            "id": deployment_id,
            "reference": {"path": "reference.parquet"},
            "logs": {"type": "parquet", "path": "logs", "timestamp_column": "scored_at"},
            "start": T0.isoformat(),
            "columns": [{"name": "age", "type": "numerical"}],
            "alerts": ALERTS if alerts is None else alerts,
        }
        for deployment_id in ids
    ]
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump({"deployments": deployments}))
    return path


class Harness:
    """The sensor with its resources, the store behind it, and a way to write drift scores."""

    def __init__(
        self,
        folder: Path,
        instance,
        ids=("model_a",),
        batch_size=5000,
        t0: datetime = T0,
        url: str | None = None,
        sinks: dict[str, dg.ConfigurableResource] | None = None,
    ) -> None:
        self.t0 = t0
        self.sinks = LIVE_SINKS if sinks is None else sinks
        self.url = url or f"sqlite:///{folder / 'monitoring.db'}"
        self.engine = get_engine(self.url)
        self.config_path = write_config(folder, list(ids))
        self.instance = instance
        self.sensor = build_drift_threshold_sensor(alert_delivery_job, batch_size=batch_size)

    def write(
        self,
        hour: int,
        statuses: dict[str, str],
        deployment: str = "model_a",
        granularity: str = "hour",
    ) -> None:
        start = self.t0 + hour * HOUR
        scores = {
            column: [DriftResult("psi", PSI[s], None, 0.25, s, s != "no_drift", 5000, 400 + hour)]
            for column, s in statuses.items()
        }
        write_drift_scores(self.engine, deployment, start, start + HOUR, granularity, scores)

    def tick(self, cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            cursor=cursor,
            instance=self.instance,
            resources=self.resources(),
        )
        return self.sensor(context)

    def resources(self) -> dict[str, dg.ConfigurableResource]:
        return {
            "store": StoreResource(database_url=self.url),
            "monitors": MonitorsResource(path=str(self.config_path)),
        } | self.sinks

    def outbox(self) -> list[dict]:
        return sorted(outbox.list_recent(self.engine, limit=10_000), key=lambda r: r["id"])
