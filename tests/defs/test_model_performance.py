"""model_performance in the session's demo: every hour materialized with its own metadata,
its numbers equal to scikit-learn on the demo's logs joined with its labels."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from sklearn import metrics as sk

from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.performance import stored_windows
from tests.conftest import DEMO_HOURS as HOURS


@pytest.fixture
def demo(demo_run, monkeypatch):
    demo_run.env(monkeypatch)
    return demo_run


def labelled_hours(data) -> dict:
    """Hour start → the demo's scored rows with their labels, joined the plain pandas way."""
    logs = pd.concat(pd.read_parquet(p) for p in sorted(data.logs_path.rglob("*.parquet")))
    labels = pd.read_parquet(data.labels_path)
    joined = logs.merge(labels, on="request_id")
    return {
        hour.to_pydatetime(): rows for hour, rows in joined.groupby(joined.scored_at.dt.floor("h"))
    }, logs.groupby(logs.scored_at.dt.floor("h")).size()


def test_every_hour_has_its_own_performance_equal_to_sklearn(demo):
    data = demo.result.data
    hours, scored = labelled_hours(data)
    with dg.DagsterInstance.from_config(str(demo.home)) as instance:
        events = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("model_performance")), limit=1000
        ).records
    metadata = {}
    for record in events:
        key = record.partition_key
        if key.startswith("credit_risk|") and key not in metadata:
            metadata[key] = record.asset_materialization.metadata
    assert len(metadata) == HOURS
    stored = stored_windows(get_engine(), "credit_risk", data.start, data.end)
    assert len(stored) == HOURS
    checked = 0
    for start, window in stored.items():
        meta = metadata[f"credit_risk|{start:%Y-%m-%d-%H:%M}"]
        assert meta["rows_scored"].value == window.n_scored == scored[pd.Timestamp(start)]
        rows = hours.get(start)
        if rows is None:
            assert meta["status"].value == "insufficient_labels"
            continue
        truth, predicted = rows.defaulted.astype(str), rows.predicted_class.astype(str)
        assert meta["labelled_rows"].value == window.n_labelled == len(rows)
        assert meta["accuracy"].value == pytest.approx(
            sk.accuracy_score(truth, predicted), abs=1e-4
        )
        assert meta["f1"].value == pytest.approx(
            sk.f1_score(truth, predicted, pos_label="1"), abs=1e-4
        )
        assert meta["roc_auc"].value == pytest.approx(
            sk.roc_auc_score(rows.defaulted, rows.score), abs=1e-4
        )
        assert meta["latency_p95"].value > 0
        checked += 1
    assert checked >= HOURS - 2  # only the last hours may still wait for their labels


def test_the_demo_prints_performance_by_hour(demo):
    assert "model performance by hour: realized on the labels arrived so far" in demo.output
    assert "labelled  accuracy  estimated   band  in band      f1  roc_auc  latency p95 ms" in (
        demo.output
    )
