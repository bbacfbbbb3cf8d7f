"""The queued run coordinator, tagging each run with the deployment it works on.

Dagster tags a single-partition run with its key (``dagster/partition``, and per dimension
``dagster/partition/deployment``), but a range run of a single-run backfill only with the
range's first and last keys (``dagster/asset_partition_range_start`` / ``_end``). Tag
concurrency limits need one value to count, so on submission every run gets
``monitoring/deployment`` from whichever of those tags it has: schedule, sensor, backfill
and UI runs alike. A run over several deployments gets no such tag (only the global cap
applies to it). Configured in ``deploy/dagster.postgres.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

import dagster as dg
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from monitoring_pipelines.defs.partitions import HOUR_FORMAT

DEPLOYMENT_TAG = "monitoring/deployment"
DIMENSION_TAG = "dagster/partition/deployment"
_DEPLOYMENT_ID = re.compile(r"[a-z][a-z0-9_]*")


def deployment_of_key(key: str) -> str | None:
    """The deployment of a partition key: ``deployment`` or ``deployment|hour``, else None."""
    deployment, _, hour = key.partition("|")
    if not _DEPLOYMENT_ID.fullmatch(deployment):
        return None
    if hour:
        try:
            datetime.strptime(hour, HOUR_FORMAT)
        except ValueError:
            return None
    return deployment


def deployment_of(tags: Mapping[str, str]) -> str | None:
    """The one deployment a run's partition tags name, or None (none, or several)."""
    if tags.get(DIMENSION_TAG):
        return tags[DIMENSION_TAG]
    if tags.get(PARTITION_NAME_TAG):
        return deployment_of_key(tags[PARTITION_NAME_TAG])
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        first, last = deployment_of_key(start), deployment_of_key(end)
        return first if first == last else None
    return None


class DeploymentRunCoordinator(dg.QueuedRunCoordinator):
    """``QueuedRunCoordinator`` that adds ``monitoring/deployment`` before enqueuing a run."""

    def submit_run(self, context: SubmitRunContext) -> dg.DagsterRun:
        run = context.dagster_run
        deployment = deployment_of(run.tags)
        if deployment is not None and run.tags.get(DEPLOYMENT_TAG) != deployment:
            self._instance.add_run_tags(run.run_id, {DEPLOYMENT_TAG: deployment})
        return super().submit_run(context)
