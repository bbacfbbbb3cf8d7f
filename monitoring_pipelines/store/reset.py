"""Remove everything the store holds for one deployment, in one transaction.

For a demo re-run, which regenerates the deployment's reference and hours: the rows of the
hours it replaced (aggregates, drift scores, performance, pending alerts and every other
table keyed by ``deployment_id``) must not outlive the logs they were computed from.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete

from monitoring_pipelines.store.engine import check_deployment_id
from monitoring_pipelines.store.schema import metadata


def clear_deployment(engine: Engine, deployment_id: str) -> dict[str, int]:
    """Delete the deployment's rows from every table with a ``deployment_id`` column;
    returns the rows removed per table."""
    check_deployment_id(deployment_id)
    removed = {}
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if "deployment_id" in table.c:
                result = conn.execute(delete(table).where(table.c.deployment_id == deployment_id))
                removed[table.name] = result.rowcount
    return removed
