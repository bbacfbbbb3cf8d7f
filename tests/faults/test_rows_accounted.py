"""Issue 14, item 4: rows an hour folder holds but the hour does not profile as read are
counted, stored and checked.

Before: rows stamped outside their hour folder's hour, or with a null timestamp, were
dropped silently (600 of 800 rows counted, every check passing), and the same file present
twice was profiled twice with nothing saying so.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pandas as pd
import yaml
from sqlalchemy import select

from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates
from tests.defs.conftest import START

HOUR = timedelta(hours=1)
COUNTS = ("row_count", "rows_out_of_window", "rows_null_timestamp", "duplicate_request_ids")


def _run_hour(tiny, config, instance, hour):
    defs = build_definitions(config, str(tiny.config_path))
    baseline = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
        partition_key="tiny_model", instance=instance
    )
    assert baseline.success
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance, partition_key=hour_key("tiny_model", hour), raise_on_error=False
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return result, checks


def _stored(tiny, hour) -> set[tuple]:
    """The hour's window-level counts as stored on each of its aggregates rows."""
    with get_engine(tiny.database_url).connect() as conn:
        rows = conn.execute(
            select(*(aggregates.c[name] for name in COUNTS)).where(
                aggregates.c.timestamp == hour, aggregates.c.is_baseline.is_(False)
            )
        ).all()
    return {tuple(row) for row in rows}


def test_rows_outside_the_hour_or_without_a_timestamp_are_counted_stored_and_fail_the_check(
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

    result, checks = _run_hour(tiny_deployment, tiny_deployment.config, dagster_instance, hour)

    assert result.success  # the hour is stored; its check says what it did not profile
    metadata = result.asset_materializations_for_node("hourly_aggregates")[0].metadata
    assert metadata["rows"].value == len(frame)
    assert metadata["rows_out_of_window"].value == len(misfiled)
    assert metadata["rows_null_timestamp"].value == len(unstamped)
    # every row of the folder is accounted for
    total = sum(metadata[k].value for k in ("rows", "rows_out_of_window", "rows_null_timestamp"))
    assert total == len(frame) + len(misfiled) + len(unstamped)
    # in the aggregates table too (no request id column: duplicates not counted, NULL)
    assert _stored(tiny_deployment, hour) == {(len(frame), len(misfiled), len(unstamped), None)}
    check = checks["rows_accounted"]
    assert not check.passed
    assert check.description == f"{len(misfiled)} rows_out_of_window; 11 rows_null_timestamp"
    assert check.metadata["rows_out_of_window"].value == len(misfiled)


def test_a_clean_hour_passes_the_check(tiny_deployment, dagster_instance):
    result, checks = _run_hour(tiny_deployment, tiny_deployment.config, dagster_instance, START)
    assert result.success and checks["rows_accounted"].passed
    assert _stored(tiny_deployment, START) == {(len(tiny_deployment.logs[START]), 0, 0, None)}


def test_the_same_file_twice_is_counted_as_duplicate_request_ids(tiny_deployment, dagster_instance):
    document = yaml.safe_load(tiny_deployment.config_path.read_text())
    document["deployments"][0]["columns"].append({"name": "request_id", "role": "request_id"})
    tiny_deployment.config_path.write_text(yaml.safe_dump(document))
    config = load_config(tiny_deployment.config_path)
    hour = START + 2 * HOUR
    frame = tiny_deployment.logs[hour].copy()
    frame["request_id"] = [f"r{i}" for i in range(len(frame))]
    frame.loc[frame.index[:5], "request_id"] = "r0"  # a retried write: 5 rows repeat r0
    frame.loc[frame.index[5], "request_id"] = None  # a missing id is not a duplicate
    folder = hour_folder(config.deployments[0].logs.path, hour)
    frame.to_parquet(folder / "part-00000.parquet")
    shutil.copy(folder / "part-00000.parquet", folder / "part-00000 (copy).parquet")

    result, checks = _run_hour(tiny_deployment, config, dagster_instance, hour)

    assert result.success
    metadata = result.asset_materializations_for_node("hourly_aggregates")[0].metadata
    assert metadata["rows"].value == 2 * len(frame)
    ids = pd.concat([frame["request_id"]] * 2).dropna()
    expected = len(ids) - ids.nunique()  # the copy repeats every id; r0 repeats 4 more times
    assert expected == len(frame) - 1 + 4
    assert metadata["duplicate_request_ids"].value == expected
    assert _stored(tiny_deployment, hour) == {(2 * len(frame), 0, 0, expected)}
    assert not checks["rows_accounted"].passed
    assert checks["rows_accounted"].description == f"{expected} duplicate_request_ids"
