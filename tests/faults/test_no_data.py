"""Issue 14, item 5: missing data is a signal. An hour with no file, a file with 0 rows or far
fewer rows than usual used to succeed quietly (0 rows, every metric insufficient_data, every
check passed, nothing alerted); it now fails a ``data_freshness`` check of its own hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key, hourly_partitions
from monitoring_pipelines.stats.freshness import (
    FRESH,
    LOW_VOLUME,
    NO_DATA,
    expected_rows,
    judge_freshness,
)

START = datetime(2026, 11, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
DEPLOYMENT = "quiet_model"
# rows per hour; None: no file at all. Hour 5 has a file with 0 rows, hour 6 a trickle.
ROWS = {0: 900, 1: 1000, 2: 1100, 3: 1000, 4: None, 5: 0, 6: 40}


def test_usual_volume_is_the_median_of_the_same_hour_else_of_recent_hours() -> None:
    at_nine = datetime(2026, 11, 9, 9, tzinfo=UTC)
    history = {at_nine - timedelta(days=d): n for d, n in [(1, 500), (2, 700), (3, 600)]}
    history[at_nine - timedelta(days=4)] = 0  # an outage is not the usual volume
    history[at_nine - 2 * H] = 5000  # another hour of day: not used while 3 same-hour exist
    assert expected_rows(history, at_nine) == 600.0
    del history[at_nine - timedelta(days=3)]
    assert expected_rows(history, at_nine) == 700.0  # median of 500, 700, 5000
    assert expected_rows({at_nine - timedelta(days=8): 100}, at_nine) is None  # too old
    assert expected_rows(history, at_nine - timedelta(days=3)) is None  # nothing before it


def test_statuses_and_their_reasons() -> None:
    assert judge_freshness(0, None, has_files=False).reason == "no log file for the hour"
    assert judge_freshness(0, 600.0).status == NO_DATA
    low = judge_freshness(59, 600.0)
    assert (low.status, low.reason) == (LOW_VOLUME, "59 rows, below 10% of the usual 600")
    assert judge_freshness(60, 600.0).status == FRESH  # 10% exactly is not below
    assert judge_freshness(3, None).status == FRESH  # no history: volume cannot be judged
    with pytest.raises(ValueError, match=r"min_fraction must be between 0 and 1, got 1\.5"):
        judge_freshness(3, 10.0, min_fraction=1.5)


def _frame(rng: np.random.Generator, hour: datetime, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n),
            "segment": rng.choice(["retail", "sme"], n),
            "scored_at": hour + pd.to_timedelta(rng.uniform(0, 3599, n), unit="s"),
        }
    )


@pytest.fixture
def quiet_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rng = np.random.default_rng(6)
    root = tmp_path / "data"
    root.mkdir()
    _frame(rng, START, 3000).drop(columns="scored_at").to_parquet(root / "reference.parquet")
    for h, n in ROWS.items():
        if n is None:
            continue
        hour = START + h * H
        folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True)
        _frame(rng, hour, n).to_parquet(folder / "part-00000.parquet")
    config = {
        "deployments": [
            {
                "id": DEPLOYMENT,
                "reference": {"path": "data/reference.parquet"},
                "logs": {"type": "parquet", "path": "data/logs", "timestamp_column": "scored_at"},
                "start": START.isoformat(),
                "columns": [
                    {"name": "scored_at", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "segment", "type": "categorical"},
                ],
            }
        ],
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{tmp_path / 'monitoring.db'}")
    monkeypatch.setenv("MONITORS_CONFIG", str(path))
    return path


def test_each_quiet_hour_fails_its_own_freshness_check(quiet_hours, dagster_instance) -> None:
    config = load_config(quiet_hours)
    defs = build_definitions(config, str(quiet_hours))
    instance = dagster_instance
    baseline = defs.resolve_job_def(BASELINE_JOB)
    assert baseline.execute_in_process(partition_key=DEPLOYMENT, instance=instance).success
    keys = {h: str(hour_key(DEPLOYMENT, START + h * H)) for h in ROWS}
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[max(ROWS)],
        },
    )
    assert result.success

    check = dg.AssetCheckKey(dg.AssetKey("hourly_aggregates"), "data_freshness")
    evaluations = {
        e.partition: e
        for e in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
        if e.asset_check_key == check
    }
    assert set(evaluations) == set(keys.values())
    described = {h: evaluations[keys[h]].description for h in ROWS}
    assert described == {
        0: "fresh: 900 rows",
        1: "fresh: 1000 rows",
        2: "fresh: 1100 rows",
        3: "fresh: 1000 rows",
        4: "no_data: no log file for the hour",
        5: "no_data: 0 rows in the hour",
        6: "low_volume: 40 rows, below 10% of the usual 1000",  # median of 900..1100
    }
    assert [evaluations[keys[h]].passed for h in ROWS] == [True] * 4 + [False] * 3

    # the UI's per-partition status, and the hour's metadata
    state = instance.event_log_storage.get_asset_check_state([(check, hourly_partitions(config))])[
        check
    ]
    failed = {
        partition
        for status, subset in state.subsets.items()
        if status.value == "FAILED"
        for partition in subset.subset_value.get_partition_keys()
        if partition.startswith(f"{DEPLOYMENT}|")
    }
    assert failed == {keys[4], keys[5], keys[6]}
    records = instance.fetch_materializations(dg.AssetKey("hourly_aggregates"), limit=1000)
    statuses = {
        r.partition_key: r.asset_materialization.metadata["data_freshness"].value
        for r in records.records
        if r.partition_key.startswith(f"{DEPLOYMENT}|")
    }
    assert statuses[keys[4]] == "no_data" and statuses[keys[6]] == "low_volume"
    assert statuses[keys[0]] == "fresh"
