"""The Dagster layer: the baseline and hourly partitions materialize and write the expected rows;
a range backfill runs as one run and writes every hour."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import numpy as np
import pytest
from sqlalchemy import func, select

from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.stats.binning import quantile_edges
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates
from tests.defs.conftest import HOURS, START


def _materialize_baseline(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    result = defs.resolve_job_def(BASELINE_JOB).execute_in_process(
        partition_key="tiny_model", instance=instance
    )
    assert result.success


def test_baseline_then_one_hour_writes_the_expected_rows(tiny_deployment, dagster_instance):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    _materialize_baseline(defs, dagster_instance)
    engine = get_engine(tiny_deployment.database_url)
    baseline = read_baseline(engine, "tiny_model")
    assert set(baseline.columns) == {"amount", "tenure", "segment", "predicted_class", "confidence"}

    job = defs.resolve_job_def(HOURLY_JOB)
    result = job.execute_in_process(
        instance=dagster_instance, partition_key=hour_key("tiny_model", START)
    )
    assert result.success
    stored = read_windows(engine, "tiny_model", START, START + timedelta(hours=1), baseline)
    frame = tiny_deployment.logs[START]
    amount = stored[START].columns["amount"]
    assert stored[START].row_count == len(frame)
    np.testing.assert_array_equal(
        amount.counts,
        np.bincount(
            np.searchsorted(baseline.columns["amount"].edges[1:-1], frame["amount"], "right"),
            minlength=amount.counts.size,
        ),
    )
    assert amount.mean == pytest.approx(frame["amount"].mean(), rel=1e-12)
    assert stored[START].columns["segment"].counts == frame["segment"].value_counts().to_dict()

    materialization = result.asset_materializations_for_node("hourly_aggregates")[0]
    assert materialization.metadata["rows"].value == len(frame)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == dict.fromkeys(
        ["raw_data_quality", "drift", "data_freshness", "rows_accounted"], True
    )

    drift = result.asset_materializations_for_node("drift_scores")[0].metadata
    assert drift["mean_confidence"].value == round(frame["confidence"].mean(), 4)  # for reading
    assert drift["drifted_columns"].value == 0  # 200 rows < min_rows: insufficient data
    assert "insufficient_data" in drift["scores"].value


def test_range_backfill_is_one_run_writing_every_hour(tiny_deployment, dagster_instance):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    _materialize_baseline(defs, dagster_instance)
    first, last = START, START + timedelta(hours=HOURS - 1)
    runs_before = len(dagster_instance.get_runs())
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance,
        tags={
            "dagster/asset_partition_range_start": str(hour_key("tiny_model", first)),
            "dagster/asset_partition_range_end": str(hour_key("tiny_model", last)),
        },
    )
    assert result.success
    assert len(dagster_instance.get_runs()) == runs_before + 1
    engine = get_engine(tiny_deployment.database_url)
    with engine.connect() as conn:
        per_hour = conn.execute(
            select(aggregates.c.timestamp, func.max(aggregates.c.row_count))
            .where(aggregates.c.deployment_id == "tiny_model", aggregates.c.is_baseline.is_(False))
            .group_by(aggregates.c.timestamp)
            .order_by(aggregates.c.timestamp)
        ).all()
    assert [row[1] for row in per_hour] == [len(f) for f in tiny_deployment.logs.values()]
    materializations = result.asset_materializations_for_node("hourly_aggregates")
    rows = {m.partition: m.metadata["rows"].value for m in materializations}
    assert rows == {
        hour_key("tiny_model", hour): len(frame) for hour, frame in tiny_deployment.logs.items()
    }


def test_hour_before_the_baseline_fails_with_a_clear_message(tiny_deployment, dagster_instance):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance,
        partition_key=hour_key("tiny_model", START),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("hourly_aggregates")
    assert "MissingBaselineError: " in failure.error.message
    assert "no baseline_statistics yet" in failure.error.message
    assert failure.user_failure_data.metadata["error_type"].value == "MissingBaselineError"


def test_quantile_edges_used_by_the_baseline_come_from_the_config(
    tiny_deployment, dagster_instance
):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    _materialize_baseline(defs, dagster_instance)
    baseline = read_baseline(get_engine(tiny_deployment.database_url), "tiny_model")
    import pandas as pd

    reference = pd.read_parquet(tiny_deployment.config_path.parent / "data/reference.parquet")
    np.testing.assert_array_equal(
        baseline.columns["amount"].edges, quantile_edges(reference["amount"].to_numpy(), 10)
    )


def test_an_hour_without_logs_is_an_empty_window_not_a_failure(tiny_deployment, dagster_instance):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    _materialize_baseline(defs, dagster_instance)
    empty_hour = START + timedelta(hours=HOURS + 2)
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance, partition_key=hour_key("tiny_model", empty_hour)
    )
    assert result.success
    engine = get_engine(tiny_deployment.database_url)
    baseline = read_baseline(engine, "tiny_model")
    stored = read_windows(
        engine, "tiny_model", empty_hour, empty_hour + timedelta(hours=1), baseline
    )
    assert stored[empty_hour].row_count == 0
    assert all(p.count == 0 and p.missing == 0 for p in stored[empty_hour].columns.values())
    drift = result.asset_materializations_for_node("drift_scores")[0].metadata
    assert drift["rows"].value == 0 and drift["drifted_columns"].value == 0
    assert "insufficient_data" in drift["scores"].value


def test_a_run_without_the_checks_skips_validation(tiny_deployment, dagster_instance):
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    _materialize_baseline(defs, dagster_instance)
    unchecked = dg.define_asset_job(
        "hourly_without_checks",
        selection=dg.AssetSelection.assets("hourly_aggregates").without_checks(),
    )
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[unchecked]))
    result = defs.resolve_job_def("hourly_without_checks").execute_in_process(
        instance=dagster_instance, partition_key=hour_key("tiny_model", START)
    )
    assert result.success
    assert result.get_asset_check_evaluations() == []
    materialization = result.asset_materializations_for_node("hourly_aggregates")[0]
    assert materialization.metadata["rows"].value == len(tiny_deployment.logs[START])
