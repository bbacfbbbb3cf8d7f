"""`monitoring-pipelines demo --kafka`: the demo's traffic goes through the local broker and the
hours read back from the topic give the aggregates the Parquet demo gives on the same traffic."""

from __future__ import annotations

import io

import pytest

from monitoring_pipelines.defs.demo import KAFKA_TOPIC, DemoSettings, run_demo
from monitoring_pipelines.store.aggregates import profile_rows
from tests.conftest import DEMO_DRIFT_FROM, DEMO_END, DEMO_HOURS, REPO, broker_or_skip
from tests.traffic.test_logger import assert_same_rows


@pytest.mark.slow
def test_the_kafka_demo_aggregates_what_the_parquet_demo_does(demo_run, tmp_path, monkeypatch):
    broker_or_skip().stop()  # the broker is there (a clear skip, or a failure under CI=true)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("MONITORS_CONFIG", str(REPO / "monitors.yaml"))
    monkeypatch.delenv("MONITORING_DATABASE_URL", raising=False)
    out = io.StringIO()
    settings = DemoSettings(
        hours=DEMO_HOURS,
        drift_from_hour=DEMO_DRIFT_FROM,
        rows_per_hour=1500,
        reference_rows=6000,
        end=DEMO_END,
        kafka=True,
        retrain=False,  # as the session's demo
    )
    result = run_demo(settings, out)
    assert f"logs to topic {KAFKA_TOPIC!r}" in out.getvalue()
    assert not list((tmp_path / "demo" / "credit_risk" / "logs").rglob("*.parquet"))
    parquet = demo_run.result
    assert result.drifted == parquet.drifted and result.onset == parquet.onset
    assert list(result.windows) == list(parquet.windows)
    for hour, profile in result.windows.items():
        assert profile.row_count == parquet.windows[hour].row_count > 0
        assert_same_rows(profile_rows(profile), profile_rows(parquet.windows[hour]))
