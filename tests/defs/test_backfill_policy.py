"""``defaults.backfill`` picks each hourly asset's backfill policy; the split covers every
hour once, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import yaml

from monitoring_pipelines.config import ConfigError, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.pipeline.split import slices

HOURLY = ("hourly_aggregates", "drift_scores", "drift_report")


def _config(tmp_path, backfill: dict):
    path = tmp_path / "monitors.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"backfill": backfill},
                "deployments": [
                    {
                        "id": "policy_check",
                        "reference": {"path": "reference.parquet"},
                        "logs": {"type": "parquet", "path": "logs", "timestamp_column": "t"},
                        "start": "2026-11-02T00:00:00+00:00",
                        "columns": [
                            {"name": "t", "role": "timestamp"},
                            {"name": "x", "type": "numerical"},
                        ],
                    }
                ],
            }
        )
    )
    return path


def _policies(path) -> dict:
    defs = build_definitions(load_config(path), str(path))
    graph = defs.resolve_asset_graph()
    return {key: graph.get(dg.AssetKey(key)).backfill_policy for key in HOURLY}


def test_single_run_is_the_default_and_multi_run_takes_the_chunk(tmp_path):
    single = _policies(_config(tmp_path, {}))
    assert all(p.max_partitions_per_run is None for p in single.values())
    chunked = _policies(_config(tmp_path, {"policy": "multi_run", "chunk_hours": 24}))
    assert all(p.max_partitions_per_run == 24 for p in chunked.values())


def test_a_bad_policy_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"backfill\.policy"):
        load_config(_config(tmp_path, {"policy": "per_hour"}))
    with pytest.raises(ConfigError, match=r"backfill\.processes"):
        load_config(_config(tmp_path, {"processes": 0}))


@pytest.mark.parametrize(("hours", "processes"), [(1, 2), (6, 2), (720, 2), (25, 4)])
def test_slices_cover_every_hour_once_in_order(hours: int, processes: int):
    start = datetime(2026, 11, 2, tzinfo=UTC)
    windows = [("d", start + timedelta(hours=h)) for h in range(hours)]
    parts = slices(windows, processes)
    assert [w for part in parts for w in part] == windows
    assert len(parts) <= processes * 4 and all(parts)
