"""Issue 14, item 4: rows an hour folder holds but the hour does not profile are counted.

Before: rows stamped outside their hour folder's hour, or with a null timestamp, were
dropped silently (600 of 800 rows counted, every check passing).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.sources.parquet import hour_folder
from tests.defs.conftest import START

HOUR = timedelta(hours=1)


def test_rows_outside_the_hour_or_without_a_timestamp_are_counted_per_hour(
    tiny_deployment, dagster_instance
):
    hour = START + HOUR
    frame = tiny_deployment.logs[hour]
    misfiled = frame.iloc[:30].copy()
    misfiled["scored_at"] = misfiled["scored_at"] + HOUR  # belongs to the next hour
    unstamped = frame.iloc[30:41].copy()
    unstamped["scored_at"] = pd.NaT
    folder = hour_folder(tiny_deployment.config.deployments[0].logs.path, hour)
    pd.concat([frame, misfiled, unstamped]).to_parquet(folder / "part-00000.parquet")

    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    assert (
        defs.resolve_job_def(BASELINE_JOB)
        .execute_in_process(partition_key="tiny_model", instance=dagster_instance)
        .success
    )
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance, partition_key=hour_key("tiny_model", hour)
    )

    assert result.success
    metadata = result.asset_materializations_for_node("hourly_aggregates")[0].metadata
    assert metadata["rows"].value == len(frame)
    assert metadata["rows_out_of_window"].value == len(misfiled)
    assert metadata["rows_null_timestamp"].value == len(unstamped)
    # every row of the folder is accounted for
    total = sum(metadata[k].value for k in ("rows", "rows_out_of_window", "rows_null_timestamp"))
    assert total == len(frame) + len(misfiled) + len(unstamped)
