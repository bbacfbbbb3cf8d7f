"""Issue 14, item 4: rows an hour folder holds but the hour does not profile as read are
counted, stored and checked; rows filed one folder off are read by the hour they belong to.

Before: rows stamped outside their hour folder's hour, or with a null timestamp, were
dropped silently (600 of 800 rows counted, 0 in the hour they belong to, every check
passing), and the same file present twice was profiled twice with nothing saying so.
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
from monitoring_pipelines.sources.parquet import ParquetLogSource, hour_folder
from monitoring_pipelines.stats.duplicates import DuplicateCounter
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates
from tests.defs.conftest import START

HOUR = timedelta(hours=1)
COUNTS = (
    "row_count",
    "rows_out_of_window",
    "rows_null_timestamp",
    "duplicate_request_ids",
    "rows_misfiled",
    "rows_from_neighbours",
)


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


def _run_range(tiny, config, instance, first, last):
    defs = build_definitions(config, str(tiny.config_path))
    baseline = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
        partition_key="tiny_model", instance=instance
    )
    assert baseline.success
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": str(hour_key("tiny_model", first)),
            "dagster/asset_partition_range_end": str(hour_key("tiny_model", last)),
        },
    )
    assert result.success
    metadata = {
        m.partition: m.metadata for m in result.asset_materializations_for_node("hourly_aggregates")
    }
    checks = {
        (e.partition, e.check_name): e
        for e in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }
    return metadata, checks


def test_misfiled_rows_are_read_by_their_hour_and_lost_ones_counted_stored_and_failed(
    tiny_deployment, dagster_instance
):
    hour, after = START + HOUR, START + 2 * HOUR
    frame = tiny_deployment.logs[hour]
    misfiled = frame.iloc[:30].copy()
    misfiled["scored_at"] = misfiled["scored_at"] + HOUR  # belongs to 02:00, the next hour
    far = frame.iloc[30:37].copy()
    far["scored_at"] = far["scored_at"] + 3 * HOUR  # 04:00: no hour reads a folder that far
    unstamped = frame.iloc[37:48].copy()
    unstamped["scored_at"] = pd.NaT
    folder = hour_folder(tiny_deployment.config.deployments[0].logs.path, hour)
    pd.concat([frame, misfiled, far, unstamped]).to_parquet(folder / "part-00000.parquet")

    metadata, checks = _run_range(
        tiny_deployment, tiny_deployment.config, dagster_instance, hour, after
    )

    mine = metadata[str(hour_key("tiny_model", hour))]
    assert mine["rows"].value == len(frame)
    assert mine["rows_misfiled"].value == len(misfiled)  # read by 02:00, below
    assert mine["rows_out_of_window"].value == len(far)
    assert mine["rows_null_timestamp"].value == len(unstamped)
    assert mine["rows_from_neighbours"].value == 0
    # every row of the folder is accounted for
    counts = ("rows", "rows_misfiled", "rows_out_of_window", "rows_null_timestamp")
    assert sum(mine[k].value for k in counts) == len(frame) + 30 + 7 + 11
    theirs = metadata[str(hour_key("tiny_model", after))]
    assert theirs["rows"].value == len(tiny_deployment.logs[after]) + len(misfiled)
    assert theirs["rows_from_neighbours"].value == len(misfiled)
    # in the aggregates table too (no request id column: duplicates not counted, NULL)
    assert _stored(tiny_deployment, hour) == {(len(frame), 7, 11, None, 30, 0)}
    assert _stored(tiny_deployment, after) == {(theirs["rows"].value, 0, 0, None, 0, 30)}
    check = checks[(str(hour_key("tiny_model", hour)), "rows_accounted")]
    assert not check.passed
    assert check.description == "7 rows_out_of_window; 11 rows_null_timestamp"
    assert check.metadata["rows_misfiled"].value == len(misfiled)
    # rows found by their own hour are not lost: that hour passes
    assert checks[(str(hour_key("tiny_model", after)), "rows_accounted")].passed


def test_a_clean_hour_passes_the_check(tiny_deployment, dagster_instance):
    result, checks = _run_hour(tiny_deployment, tiny_deployment.config, dagster_instance, START)
    assert result.success and checks["rows_accounted"].passed
    assert _stored(tiny_deployment, START) == {(len(tiny_deployment.logs[START]), 0, 0, None, 0, 0)}


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
    assert _stored(tiny_deployment, hour) == {(2 * len(frame), 0, 0, expected, 0, 0)}
    assert not checks["rows_accounted"].passed
    assert checks["rows_accounted"].description == f"{expected} duplicate_request_ids"


def test_duplicates_are_counted_alike_on_dataframes_and_on_arrow_columns(tmp_path):
    """The profiling fast path (Arrow columns, no DataFrame) counts repeated ids too."""
    folder = hour_folder(tmp_path, START)
    folder.mkdir(parents=True)
    ids = [f"r{i % 90}" for i in range(100)] + [None] * 3  # 10 repeats, 3 missing
    frame = pd.DataFrame(
        {"request_id": ids, "x": range(103), "scored_at": START + pd.to_timedelta(range(103), "s")}
    )
    frame.to_parquet(folder / "a.parquet")
    frame.to_parquet(folder / "b.parquet")  # the same file twice: 100 more repeats
    source = ParquetLogSource(tmp_path, "scored_at")
    expected = 200 - pd.Series(ids * 2).dropna().nunique()
    assert expected == 110
    for read in (source.read_window, source.read_columns):
        counter = DuplicateCounter("request_id")
        chunks = list(counter.observe(read(START, START + HOUR, ["x", "request_id"])))
        assert counter.duplicates() == expected
        names = [set(c.columns) if hasattr(c, "columns") else set(c.values) for c in chunks]
        assert all(n == {"x"} for n in names)  # the id is not profiled
