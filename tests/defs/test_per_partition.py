"""Per-partition truth: a single run over six hours, drift in the last three, leaves each hour
its own metadata and its own check results in the Dagster instance, as the UI reads them."""

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
from monitoring_pipelines.defs.per_partition import add_partitions_metadata

START = datetime(2026, 11, 2, 0, tzinfo=UTC)
HOURS = 6
DRIFTED = range(3, 6)
COLUMNS = ("amount", "tenure", "segment", "predicted_class", "confidence")


def _rows(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    segments = ["retail", "sme", "corporate", "unknown"]
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3 + 2.0 * drifted, 0.5, n),
            "tenure": rng.integers(0, 5, n).astype(float),
            "segment": rng.choice(
                segments, n, p=[0.2, 0.2, 0.2, 0.4] if drifted else [0.6, 0.3, 0.1, 0.0]
            ),
            "predicted_class": rng.choice(["0", "1"], n, p=[0.3, 0.7] if drifted else [0.8, 0.2]),
            "confidence": rng.uniform(0.5, 0.7 if drifted else 1.0, n),
        }
    )


@pytest.fixture
def six_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(5)
    root = tmp_path / "data"
    root.mkdir()
    _rows(rng, 4000, drifted=False).to_parquet(root / "reference.parquet")
    logs = {}
    for h in range(HOURS):
        hour = START + timedelta(hours=h)
        frame = _rows(rng, 1000 + 37 * h, drifted=h in DRIFTED)
        frame.loc[frame.index[: 3 * h], "amount"] = np.nan  # a different missing share each hour
        frame["scored_at"] = hour + pd.to_timedelta(rng.uniform(0, 3599, len(frame)), unit="s")
        folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True)
        frame.to_parquet(folder / "part-00000.parquet")
        logs[hour] = frame
    config = {
        "defaults": {"n_bins": 10},
        "deployments": [
            {
                "id": "six_hours",
                "reference": {"path": "data/reference.parquet"},
                "logs": {"type": "parquet", "path": "data/logs", "timestamp_column": "scored_at"},
                "start": START.isoformat(),
                "columns": [
                    {"name": "scored_at", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "tenure", "type": "numerical"},
                    {"name": "segment", "type": "categorical"},
                    {"name": "predicted_class", "type": "categorical", "role": "prediction"},
                    {"name": "confidence", "type": "numerical", "role": "confidence"},
                ],
            }
        ],
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{tmp_path / 'monitoring.db'}")
    monkeypatch.setenv("MONITORS_CONFIG", str(path))
    return path, logs


def _latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, dict]:
    """The latest materialization's metadata per partition, as the UI's partition view reads it."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    latest = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        if not record.partition_key.startswith("six_hours|"):
            continue  # the session's instance holds other tests' deployments too
        latest[record.partition_key] = {
            k: v.value for k, v in record.asset_materialization.metadata.items()
        }
    return latest


def _check_status(instance, partitions_def, asset: str, check: str) -> dict[str, str]:
    """Each partition's check status as the UI resolves it (latest result on the latest data)."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    state = instance.event_log_storage.get_asset_check_state([(key, partitions_def)])[key]
    return {
        partition: status.value
        for status, subset in state.subsets.items()
        if not subset.is_empty
        for partition in subset.subset_value.get_partition_keys()
        if partition.startswith("six_hours|")
    }


def test_a_six_hour_run_leaves_each_hour_its_own_metadata_and_checks(six_hours, dagster_instance):
    path, logs = six_hours
    config = load_config(path)
    defs = build_definitions(config, str(path))
    instance = dagster_instance
    assert (
        defs.resolve_job_def(BASELINE_JOB)
        .execute_in_process(partition_key="six_hours", instance=instance)
        .success
    )
    keys = {h: str(hour_key("six_hours", h)) for h in logs}
    first, last = min(logs), max(logs)
    runs_before = len(instance.get_runs())
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": keys[first],
            "dagster/asset_partition_range_end": keys[last],
        },
    )
    assert result.success and len(instance.get_runs()) == runs_before + 1

    aggregates = _latest_metadata(instance, "hourly_aggregates")
    drift = _latest_metadata(instance, "drift_scores")
    assert set(aggregates) == set(drift) == set(keys.values())
    for hour, frame in logs.items():
        meta = aggregates[keys[hour]]
        assert meta["rows"] == len(frame)
        missing = frame[list(COLUMNS)].isna().to_numpy().sum()
        assert meta["missing_total"] == missing
        assert meta["missing_share"] == round(missing / (len(frame) * len(COLUMNS)), 4)
        hour_drift = drift[keys[hour]]
        assert hour_drift["rows"] == len(frame)
        assert hour_drift["mean_confidence"] == round(frame["confidence"].mean(), 4)

    clean = [drift[keys[START + timedelta(hours=h)]] for h in range(HOURS) if h not in DRIFTED]
    drifted = [drift[keys[START + timedelta(hours=h)]] for h in DRIFTED]
    assert all(m["drifted_columns"] == 0 for m in clean)
    assert all(m["drifted_columns"] >= 3 for m in drifted)
    assert max(m["max_drift_score"] for m in clean) < 0.1
    assert min(m["max_drift_score"] for m in drifted) > 1.0
    assert max(m["prediction_drift"] for m in clean) < min(m["prediction_drift"] for m in drifted)

    partitions_def = hourly_partitions(config)
    expected = {
        keys[START + timedelta(hours=h)]: "FAILED" if h in DRIFTED else "SUCCEEDED"
        for h in range(HOURS)
    }
    assert _check_status(instance, partitions_def, "drift_scores", "drift") == expected
    assert (
        _check_status(instance, partitions_def, "hourly_aggregates", "raw_data_quality") == expected
    )
    quality = {
        e.partition: {k: v.value for k, v in e.metadata.items()}
        for e in result.get_asset_check_evaluations()
        if e.check_name == "raw_data_quality"
    }
    assert set(quality) == set(keys.values())  # one great-expectations result per hour
    for h in range(HOURS):
        groups = quality[keys[START + timedelta(hours=h)]]
        assert groups["raw_schema"] is True and groups["raw_missing_values"] is True
        assert groups["raw_value_ranges"] is groups["raw_allowed_categories"] is (h not in DRIFTED)

    # one clean hour re-run alone: the drifted hours keep their own failed results
    again = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=instance, partition_key=hour_key("six_hours", first)
    )
    assert again.success
    assert _check_status(instance, partitions_def, "drift_scores", "drift") == expected
    assert _latest_metadata(instance, "drift_scores")[keys[last]]["drifted_columns"] >= 3


HOURLY = dg.HourlyPartitionsDefinition(start_date="2026-11-02-00:00", timezone="UTC")


def _hours_asset(batched: bool) -> dg.AssetsDefinition:
    """An asset giving each hour of its run its index, then (for even hours) a second key, through
    :func:`add_partitions_metadata` or Dagster's own per-partition call."""

    @dg.asset(name="hours_batched" if batched else "hours_dagster", partitions_def=HOURLY)
    def hours(context) -> dg.MaterializeResult:  # unannotated: Dagster cannot resolve a string
        key = context.assets_def.key
        keys = sorted(context.partition_keys)
        first = {p: {"index": dg.MetadataValue.int(i)} for i, p in enumerate(keys)}
        second = {p: {"even": dg.MetadataValue.text(p)} for i, p in enumerate(keys) if i % 2 == 0}
        for metadata in (first, second):
            if batched:
                add_partitions_metadata(context, key, metadata)
            else:
                for partition, values in metadata.items():
                    context.add_asset_metadata(values, partition_key=partition)
        return dg.MaterializeResult()

    return hours


def _metadata_by_partition(instance: dg.DagsterInstance, asset: str) -> dict[str, dict]:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
    return {
        r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()}
        for r in records
    }


def test_batched_partition_metadata_is_what_dagsters_own_call_records():
    keys = HOURLY.get_partition_keys()[:7]
    with dg.instance_for_test() as instance:
        for batched in (True, False):
            result = dg.materialize(
                [_hours_asset(batched)],
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": keys[0],
                    "dagster/asset_partition_range_end": keys[-1],
                },
            )
            assert result.success
        batched = _metadata_by_partition(instance, "hours_batched")
        assert batched == _metadata_by_partition(instance, "hours_dagster")
    assert set(batched) == set(keys)
    for i, key in enumerate(keys):  # each hour its own values, both calls merged
        expected = {"index": i} | ({"even": key} if i % 2 == 0 else {})
        assert batched[key] == expected


def test_batched_partition_metadata_refuses_a_partition_outside_the_run():
    keys = HOURLY.get_partition_keys()[:3]

    @dg.asset(partitions_def=HOURLY)
    def stray(context) -> dg.MaterializeResult:
        add_partitions_metadata(context, context.assets_def.key, {keys[2]: {"n": 1}})
        return dg.MaterializeResult()

    with pytest.raises(dg.DagsterInvariantViolationError, match=keys[2]):
        dg.materialize([stray], instance=dg.DagsterInstance.ephemeral(), partition_key=keys[0])
