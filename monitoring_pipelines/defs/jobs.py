"""The hourly job and its schedule: every deployment's last complete hour, a few minutes late."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from monitoring_pipelines.config import MonitorsConfig

HOURLY_JOB = "hourly_monitoring_job"
BASELINE_JOB = "baseline_job"


def build_baseline_job(baseline: dg.AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        BASELINE_JOB,
        selection=dg.AssetSelection.assets(baseline),
        description="Fit bin edges and categories on a deployment's reference data.",
    )


def build_hourly_job(assets: list[dg.AssetsDefinition]) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        HOURLY_JOB,
        selection=dg.AssetSelection.assets(*assets),
        description="Profile (and score) one hour of one deployment, or a range as one run.",
    )


def build_hourly_schedule(
    config: MonitorsConfig, job: UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    """One run per deployment for the previous hour, ``lag_minutes`` after it ends."""
    return dg.build_schedule_from_partitioned_job(
        job,
        name="hourly_monitoring_schedule",
        minute_of_hour=config.defaults.lag_minutes,
        description=f"Each hour at :{config.defaults.lag_minutes:02d}, materialize the last "
        "complete hour for every deployment.",
    )
