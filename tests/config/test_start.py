"""A deployment without ``start`` begins where its data begins (issue 11, item 6): the first
Parquet hour folder, else the hour its reference was written, else the load's hour; the hourly
partitions begin there."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.defs.backfill import check_range
from monitoring_pipelines.defs.partitions import hourly_partitions


def _data(root: Path, start: str | None = None, logs: dict | None = None) -> dict:
    deployment = {
        "id": "fraud_v2",
        "reference": {"path": str(root / "reference.parquet")},
        "logs": logs or {"type": "parquet", "path": str(root / "logs"), "timestamp_column": "ts"},
        "columns": [{"name": "ts", "role": "timestamp"}, {"name": "amount", "type": "numerical"}],
    }
    if start:
        deployment["start"] = start
    return {"deployments": [deployment]}


def _hour_folder(root: Path, day: str, hour: str, with_file: bool = True) -> None:
    folder = root / "logs" / f"date={day}" / f"hour={hour}"
    folder.mkdir(parents=True)
    if with_file:
        pd.DataFrame({"ts": [0], "amount": [1.0]}).to_parquet(folder / "part-0.parquet")


def test_the_partitions_begin_at_the_first_hour_folder_holding_logs(tmp_path):
    _hour_folder(tmp_path, "2026-11-07", "05", with_file=False)  # empty: not yet data
    _hour_folder(tmp_path, "2026-11-07", "06")
    _hour_folder(tmp_path, "2026-11-06", "23", with_file=False)
    _hour_folder(tmp_path, "2026-11-08", "00")
    (tmp_path / "logs" / "date=garbage" / "hour=xx").mkdir(parents=True)
    config = parse_config(_data(tmp_path))
    deployment = config.deployment("fraud_v2")
    assert deployment.start == datetime(2026, 11, 7, 6, tzinfo=UTC)
    assert deployment.start_from == "logs"
    hour = hourly_partitions(config).get_partitions_def_for_dimension("hour")
    assert hour.get_first_partition_key() == "2026-11-07-06:00"


def test_an_explicit_start_wins_over_the_data(tmp_path):
    _hour_folder(tmp_path, "2026-11-07", "06")
    deployment = parse_config(_data(tmp_path, "2026-11-01T00:00:00Z")).deployment("fraud_v2")
    assert (deployment.start, deployment.start_from) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        "config",
    )


def test_without_logs_the_hour_the_reference_was_written(tmp_path):
    reference = tmp_path / "reference.parquet"
    pd.DataFrame({"amount": [1.0]}).to_parquet(reference)
    written = datetime(2026, 10, 30, 14, 37, 12, tzinfo=UTC).timestamp()
    os.utime(reference, (written, written))
    sql = {"type": "sql", "url_env": "LOGS_URL", "table": "t", "timestamp_column": "ts"}
    for data in (_data(tmp_path), _data(tmp_path, logs=sql)):  # no folder yet; SQL not read
        deployment = parse_config(data).deployment("fraud_v2")
        assert deployment.start == datetime(2026, 10, 30, 14, tzinfo=UTC)
        assert deployment.start_from == "reference"


def test_without_any_data_the_hour_of_loading(tmp_path):
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    deployment = parse_config(_data(tmp_path)).deployment("fraud_v2")
    assert deployment.start_from == "load"
    assert before <= deployment.start <= datetime.now(UTC)
    assert deployment.start.minute == deployment.start.second == 0


def test_a_backfill_before_the_first_hour_says_where_that_hour_came_from(tmp_path):
    _hour_folder(tmp_path, "2026-11-07", "06")
    config = parse_config(_data(tmp_path))
    with pytest.raises(
        ValueError, match=r"first hour \(2026-11-07 06:00, the first hour of its logs"
    ):
        check_range(
            config,
            "fraud_v2",
            datetime(2026, 11, 7, 5, tzinfo=UTC),
            datetime(2026, 11, 7, 7, tzinfo=UTC),
        )
    assert (
        len(
            check_range(
                config,
                "fraud_v2",
                datetime(2026, 11, 7, 6, tzinfo=UTC),
                datetime(2026, 11, 7, 8, tzinfo=UTC),
            )
        )
        == 2
    )
