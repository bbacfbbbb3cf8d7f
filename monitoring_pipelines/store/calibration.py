"""``calibration`` rows: a deployment's noise curves, replaced whenever its baseline is fitted."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from monitoring_pipelines.stats.calibration import Calibration, NoiseCurve
from monitoring_pipelines.store.engine import check_deployment_id
from monitoring_pipelines.store.schema import calibration


def write_calibration(engine: Engine, deployment_id: str, curves: Calibration) -> int:
    """Replace the deployment's curves in one transaction; returns the number of rows."""
    check_deployment_id(deployment_id)
    now = datetime.now(UTC)
    rows = [
        {
            "deployment_id": deployment_id,
            "column_name": column,
            "metric": metric,
            "sizes": [float(x) for x in curve.sizes],
            "means": [float(x) for x in curve.means],
            "stds": [float(x) for x in curve.stds],
            "computed_at": now,
        }
        for column, metrics in curves.items()
        for metric, curve in metrics.items()
    ]
    with engine.begin() as conn:
        conn.execute(delete(calibration).where(calibration.c.deployment_id == deployment_id))
        if rows:
            conn.execute(insert(calibration), rows)
    return len(rows)


def read_calibration(engine: Engine, deployment_id: str) -> Calibration:
    """The deployment's curves (column → metric → curve); empty when none were fitted."""
    return read_calibrations(engine, [deployment_id])[deployment_id]


def read_calibrations(engine: Engine, deployment_ids: Collection[str]) -> dict[str, Calibration]:
    """:func:`read_calibration` of each deployment, in one query."""
    ids = sorted(set(deployment_ids))
    query = select(calibration).where(calibration.c.deployment_id.in_(ids))
    out: dict[str, Calibration] = {d: {} for d in ids}
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            out[row["deployment_id"]].setdefault(row["column_name"], {})[row["metric"]] = (
                NoiseCurve(
                    sizes=tuple(row["sizes"]), means=tuple(row["means"]), stds=tuple(row["stds"])
                )
            )
    return out
