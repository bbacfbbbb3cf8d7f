"""Forget a deployment's hours outside a range: what a demo re-run does for the hours whose
logs it deleted, so no store row, metric or pending alert outlives the data it came from.

Windows that overlap the kept range stay (the run rewrites them); the baseline, calibration
and rows of no window (run failures, notices) are never touched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, delete, or_

from monitoring_pipelines.store.schema import (
    aggregates,
    alerts,
    drift_scores,
    model_performance,
    written_windows,
)
from monitoring_pipelines.store.times import utc


def clear_outside(
    engine: Engine, deployment_id: str, start: datetime, end: datetime
) -> dict[str, int]:
    """Delete the deployment's windows that do not overlap ``[start, end)``, in one
    transaction; returns the rows deleted per table."""
    start, end = utc(start), utc(end)
    deleted = {}
    with engine.begin() as conn:
        hourly = and_(
            aggregates.c.deployment_id == deployment_id,
            aggregates.c.is_baseline.is_(False),
            or_(aggregates.c.timestamp < start, aggregates.c.timestamp >= end),
        )
        deleted[aggregates.name] = conn.execute(delete(aggregates).where(hourly)).rowcount
        for table in (drift_scores, model_performance, alerts, written_windows):
            outside = and_(
                table.c.deployment_id == deployment_id,
                or_(table.c.window_end <= start, table.c.window_start >= end),
            )
            if table is model_performance:  # baseline versions are no window
                outside = and_(outside, table.c.kind != "baseline")
            deleted[table.name] = conn.execute(delete(table).where(outside)).rowcount
    return deleted


def clear_versions(engine: Engine, deployment_id: str) -> dict[str, int]:
    """Delete the deployment's baseline versions and retraining decisions (what a fresh demo,
    which rewrites the reference and validation set, starts without); returns rows deleted."""
    with engine.begin() as conn:
        return {
            "baseline": conn.execute(
                delete(aggregates).where(
                    aggregates.c.deployment_id == deployment_id, aggregates.c.is_baseline.is_(True)
                )
            ).rowcount,
            "baseline_performance": conn.execute(
                delete(model_performance).where(
                    model_performance.c.deployment_id == deployment_id,
                    model_performance.c.kind == "baseline",
                )
            ).rowcount,
            "retraining": conn.execute(
                delete(alerts).where(
                    alerts.c.deployment_id == deployment_id,
                    alerts.c.dedup_key.like(f"retraining|{deployment_id}|%"),
                )
            ).rowcount,
        }
