"""``multivariate_models`` rows: a deployment's reconstruction model, replaced with its baseline.

``model`` is the JSON form of :class:`~monitoring_pipelines.stats.multivariate.ReconstructionModel`
(encodings, components, the reference chunks); when the reference could not give one,
``model`` is null and ``reason`` says why, so the UI and the logs can show it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from monitoring_pipelines.stats.multivariate import ReconstructionModel
from monitoring_pipelines.store.engine import check_deployment_id
from monitoring_pipelines.store.schema import multivariate_models


def write_model(
    engine: Engine, deployment_id: str, model: ReconstructionModel | None, reason: str | None
) -> None:
    """Replace the deployment's model (or the reason it has none) in one transaction."""
    check_deployment_id(deployment_id)
    row = {
        "deployment_id": deployment_id,
        "model": None if model is None else model.to_dict(),
        "reason": reason,
        "computed_at": datetime.now(UTC),
    }
    table = multivariate_models
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.deployment_id == deployment_id))
        conn.execute(insert(table), [row])


def read_models(
    engine: Engine, deployment_ids: Collection[str]
) -> dict[str, ReconstructionModel | None]:
    """The model of each deployment (None without one), in one query."""
    table = multivariate_models
    ids = sorted(set(deployment_ids))
    query = select(table.c.deployment_id, table.c.model).where(table.c.deployment_id.in_(ids))
    models: dict[str, ReconstructionModel | None] = dict.fromkeys(ids)
    with engine.connect() as conn:
        for deployment_id, model in conn.execute(query):
            models[deployment_id] = None if model is None else ReconstructionModel.from_dict(model)
    return models


def read_model(engine: Engine, deployment_id: str) -> tuple[ReconstructionModel | None, str | None]:
    """The deployment's model and, without one, why (None, None: never fitted)."""
    table = multivariate_models
    query = select(table.c.model, table.c.reason).where(table.c.deployment_id == deployment_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None, None
    return (None if row.model is None else ReconstructionModel.from_dict(row.model)), row.reason
