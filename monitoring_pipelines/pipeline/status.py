"""Where each deployment stands, for ``monitoring-pipelines status``: its last profiled hour,
that hour's rows and drift, and its last alert with the delivery of each channel. Read from
the store only (no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from monitoring_pipelines.alerts.listing import aligned
from monitoring_pipelines.stats.drift import INSUFFICIENT_DATA, UNDEFINED
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.schema import aggregates, alerts
from monitoring_pipelines.store.times import utc

NO_DATA = "no_data"
ALERT_KINDS = ("drift", "resolved", "no_data", "run_failure", "notice", "performance", "retraining")


@dataclass(frozen=True)
class DeploymentStatus:
    """One deployment's latest hour and last alert; ``status`` is ``drift``, ``stable``,
    ``insufficient_data`` (no metric could be judged) or ``no_data`` (nothing profiled)."""

    deployment_id: str
    last_hour: datetime | None = None
    rows: int | None = None
    status: str = NO_DATA
    drifted_columns: list[str] = field(default_factory=list)
    last_alert: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The status with ISO times, for ``--json``."""
        hour = self.last_hour and self.last_hour.isoformat()
        return {
            "deployment": self.deployment_id,
            "last_hour": hour,
            "rows": self.rows,
            "status": self.status,
            "drifted_columns": self.drifted_columns,
            "last_alert": self.last_alert,
        }


def last_profiled_hour(engine: Engine, deployment_id: str) -> tuple[datetime, int] | None:
    """The start of the newest stored hourly window and its row count."""
    newest = (
        select(func.max(aggregates.c.timestamp))
        .where(
            aggregates.c.deployment_id == deployment_id,
            aggregates.c.is_baseline.is_(False),
            aggregates.c.segment == ALL,
        )
        .scalar_subquery()
    )
    query = (
        select(aggregates.c.timestamp, aggregates.c.row_count)
        .where(
            aggregates.c.deployment_id == deployment_id,
            aggregates.c.is_baseline.is_(False),
            aggregates.c.segment == ALL,
            aggregates.c.timestamp == newest,
        )
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else (utc(row.timestamp), int(row.row_count))


def hour_drift(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The hour's status and its drifted columns, from its ``drift_scores`` rows."""
    drifted = sorted({r["column_name"] for r in rows if r["drifted"]})
    if drifted:
        return "drift", drifted
    judged = [r for r in rows if r["status"] not in (INSUFFICIENT_DATA, UNDEFINED)]
    return ("stable" if judged else INSUFFICIENT_DATA), []


def last_alert(engine: Engine, deployment_id: str) -> dict[str, Any] | None:
    """The deployment's newest outbox row that is an alert (not window metrics), with where
    each channel's delivery stands."""
    query = (
        select(alerts)
        .where(alerts.c.deployment_id == deployment_id, alerts.c.kind.in_(ALERT_KINDS))
        .order_by(alerts.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    window = row["window_start"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "severity": row["severity"],
        "window_start": window and utc(window).isoformat(),
        "column": row["column_name"],
        "metric": row["metric"],
        "slack": row["slack_status"],
        "cloudwatch": row["cloudwatch_status"],
    }


def deployment_status(engine: Engine, deployment_id: str) -> DeploymentStatus:
    """The status of one deployment from what the store holds."""
    alert = last_alert(engine, deployment_id)
    latest = last_profiled_hour(engine, deployment_id)
    if latest is None:
        return DeploymentStatus(deployment_id, last_alert=alert)
    hour, rows = latest
    scores = read_drift_scores(engine, deployment_id, hour, hour + timedelta(hours=1), "hour")
    status, drifted = hour_drift(scores) if scores else (NO_DATA, [])
    return DeploymentStatus(deployment_id, hour, rows, status, drifted, alert)


def _alert_cell(alert: dict[str, Any] | None) -> str:
    if alert is None:
        return "none"
    window = alert["window_start"] and alert["window_start"][:16].replace("T", " ")
    what = " ".join(str(v) for v in (alert["kind"], alert["severity"], window) if v)
    return f"#{alert['id']} {what} (slack {alert['slack']}, cloudwatch {alert['cloudwatch']})"


def format_status(statuses: list[DeploymentStatus]) -> str:
    """One aligned line per deployment."""
    headers = ("deployment", "last hour (UTC)", "rows", "status", "drifted columns", "last alert")
    lines = [
        (
            s.deployment_id,
            "-" if s.last_hour is None else f"{s.last_hour:%Y-%m-%d %H:%M}",
            "-" if s.rows is None else str(s.rows),
            s.status,
            ", ".join(s.drifted_columns) or "-",
            _alert_cell(s.last_alert),
        )
        for s in statuses
    ]
    return aligned([headers, *lines])
