"""The demo with its retraining pause (8 hours, drift from hour 4, paused at hour 6): concept
drift degrades accuracy after the drift hour; the retraining sensor requests exactly one
retraining run whose tags name the reasons; after it a new baseline version exists and the
next hours are judged against it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from monitoring_pipelines.store.times import utc
from tests.conftest import DEMO_DRIFT_FROM as DRIFT_FROM
from tests.conftest import DEMO_END as END


@pytest.fixture
def demo(retrained_demo_run):
    run = retrained_demo_run  # the session's retraining demo (tests/conftest.py), shared
    return run.result, run.output, run.home


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
    old, new = baseline_versions(engine, "credit_risk")
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
    assert "[3/6] backfilling 6 hours" in output
    assert "[5/6] backfilling the 2 hours after the decision" in output
