"""The demo end to end on a reduced size: generate, materialize baseline and every hour through
Dagster into a persistent DAGSTER_HOME, and find the injected drift where it was injected."""

from __future__ import annotations

import io

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from monitoring_pipelines.defs.demo import DemoSettings, run_demo
from monitoring_pipelines.store.times import utc
from tests.conftest import DEMO_DRIFT_FROM as DRIFT_FROM
from tests.conftest import DEMO_DRIFTED as DRIFTED
from tests.conftest import DEMO_END as END
from tests.conftest import DEMO_HOURS as HOURS
from tests.conftest import REPO


@pytest.fixture
def demo(demo_run):
    return demo_run.result, demo_run.output, demo_run.home


def test_every_hour_is_materialized_in_the_persistent_instance(demo):
    result, output, home = demo
    assert len(result.windows) == HOURS
    with dg.DagsterInstance.from_config(str(home)) as instance:
        key = dg.AssetKey("drift_scores")
        partitions = instance.get_materialized_partitions(key)
    assert len([p for p in partitions if p.startswith("credit_risk|")]) == HOURS
    assert "[3/6] backfilling 6 hours" in output
    assert "[5/6] backfilling the 2 hours after the decision" in output


def test_injected_drift_is_found_from_its_first_hour_and_nowhere_else(demo):
    result, output, _ = demo
    hours = sorted(result.drifted)
    assert len(hours) == HOURS
    for index, hour in enumerate(hours):
        drifted = set(result.drifted[hour])
        if index < DRIFT_FROM:
            assert drifted == set(), f"false alarm at clean hour {hour}: {drifted}"
        else:
            assert drifted == DRIFTED, f"hour {hour}: {drifted}"
    assert set(result.onset) == DRIFTED
    assert all(h == hours[DRIFT_FROM] for h in result.onset.values())
    assert "drifted columns (first drifted hour):" in output


def test_rerunning_the_demo_is_safe_and_gives_the_same_rows(demo, monkeypatch):
    result, _, home = demo
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("MONITORS_CONFIG", str(REPO / "monitors.yaml"))
    monkeypatch.delenv("MONITORING_DATABASE_URL", raising=False)
    again = run_demo(
        DemoSettings(
            hours=HOURS,
            drift_from_hour=DRIFT_FROM,
            rows_per_hour=1500,
            reference_rows=6000,
            end=END,
        ),
        io.StringIO(),
    )
    assert {h: p.row_count for h, p in again.windows.items()} == {
        h: p.row_count for h, p in result.windows.items()
    }
    assert again.drifted == result.drifted


def test_the_demo_ends_listing_the_alerts_for_the_drifted_columns(demo):
    from monitoring_pipelines.store.alerts import list_recent
    from monitoring_pipelines.store.engine import get_engine

    result, output, home = demo
    engine = get_engine(f"sqlite:///{home / 'monitoring.db'}")
    drift_alerts = [row for row in list_recent(engine, limit=1000) if row["kind"] == "drift"]
    assert {row["column_name"] for row in drift_alerts} == DRIFTED
    first_drifted = sorted(result.drifted)[DRIFT_FROM]
    assert {row["window_start"] for row in drift_alerts} == {first_drifted}  # then cooldown
    assert "alerts (monitoring-pipelines alerts):" in output
    for column in DRIFTED:
        assert column in output.split("alerts (monitoring-pipelines alerts):")[1]


def test_concept_drift_degrades_accuracy_and_triggers_exactly_one_retraining(demo):
    """End to end: accuracy drops after the drift hour; the retraining sensor requests one
    run tagged with its reasons; after it a new baseline version exists and the next hours
    are judged against it (drift on the new reference's rows, performance vs its numbers)."""
    from monitoring_pipelines.store.drift import read_drift_scores
    from monitoring_pipelines.store.engine import get_engine
    from monitoring_pipelines.store.performance import (
        baseline_versions,
        read_baseline_performance,
        window_values,
    )
    from monitoring_pipelines.store.schema import model_performance

    result, output, home = demo
    engine = get_engine(f"sqlite:///{home / 'monitoring.db'}")
    hours = sorted(result.windows)
    accuracy = {s: v for s, m, v in window_values(engine, "credit_risk", hours[0], END)
                if m == "accuracy"}  # fmt: skip
    clean = [accuracy[h] for h in hours[:DRIFT_FROM]]
    drifted = [accuracy[h] for h in hours[DRIFT_FROM : result.split]]
    assert np.mean(clean) - np.mean(drifted) > 0.05

    (request,) = result.retraining
    reasons = request.tags["monitoring/retraining_reasons"]
    assert "below floor 0.7" in reasons and "vs baseline" in reasons
    assert request.run_config["ops"]["retrain"]["config"]["deployment_id"] == "credit_risk"
    assert "retraining runs requested: 1" in output

    assert len(result.baseline_versions) == 2
    old, new = baseline_versions(engine, "credit_risk")  # a re-run replaced the first run's
    assert read_baseline_performance(engine, "credit_risk", old).metrics["accuracy"] > 0
    reference_rows = len(pd.read_parquet(home / "demo" / "credit_risk" / "reference.parquet"))
    assert reference_rows != 6000  # the retrained model's training rows
    scores = read_drift_scores(engine, "credit_risk", hours[0], END, "hour")
    sizes: dict = {}
    for row in scores:  # the largest reference sample of each hour: the reference's rows
        sizes[row["window_start"]] = max(sizes.get(row["window_start"], 0), row["reference_size"])
    assert {sizes[h] for h in hours[: result.split]} == {6000}
    assert {sizes[h] for h in hours[result.split :]} == {reference_rows}
    with engine.connect() as conn:
        compared = conn.execute(
            select(model_performance.c.window_start, model_performance.c.details).where(
                model_performance.c.metric == "vs_baseline"
            )
        ).all()
    versions = {utc(start): details["version"] for start, details in compared}
    assert {versions[h] for h in hours[: result.split] if h in versions} == {old.isoformat()}
    assert {versions[h] for h in hours[result.split :] if h in versions} == {new.isoformat()}
    assert "v2" in output and "judged against this one" in output
