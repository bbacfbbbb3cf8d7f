"""drift_threshold_sensor with production references: a window's training and last-week rows
are judged in one tick, each (window, reference) once, their alerts on distinct keys."""

from __future__ import annotations

import pytest

from monitoring_pipelines.defs.metadata import hour_drift_metadata
from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import write_drift_scores
from tests.defs.drift_harness import HOUR, T0, Harness


@pytest.fixture
def harness(tmp_path, dagster_instance) -> Harness:
    return Harness(tmp_path, dagster_instance)


def _psi(value: float, status: str) -> tuple[DriftResult]:
    return (DriftResult("psi", value, None, 0.25, status, value >= 0.25, 5000, 400),)


def _write(harness: Harness, hour: int, last_week: float) -> None:
    start = T0 + hour * HOUR
    write_drift_scores(
        harness.engine,
        "model_a",
        start,
        start + HOUR,
        "hour",
        {"age": _psi(0.42, "significant")},
        {"last_week": {"age": _psi(last_week, "significant" if last_week >= 0.25 else "no_drift")}},
    )


def test_each_window_and_reference_is_judged_once(harness):
    _write(harness, 0, last_week=0.42)
    first = harness.tick(None)
    rows = [r for r in harness.outbox() if r["kind"] != outbox.METRICS]
    stamp = T0.isoformat()
    assert [(r["dedup_key"], r["reference"]) for r in rows] == [
        (f"model_a|hour|{stamp}|age|psi|critical|last_week", "last_week"),
        (f"model_a|hour|{stamp}|age|psi|critical", "training"),
    ]
    [metrics] = [r for r in harness.outbox() if r["kind"] == outbox.METRICS]
    assert sorted(s["reference"] for s in metrics["cloudwatch"]["scores"]) == [
        "last_week",
        "training",
    ]
    assert first.cursor == "commit_seq:1"  # both references came in one committed window
    before = harness.outbox()
    assert harness.tick(first.cursor).skip_reason is not None
    _write(harness, 0, last_week=0.42)  # re-run: judged again, nothing enqueued twice
    again = harness.tick(first.cursor)
    assert again.cursor == "commit_seq:2" and not again.run_requests
    assert harness.outbox() == before


def test_a_stable_reference_does_not_hide_the_other(harness):
    _write(harness, 0, last_week=0.03)  # like last week, far from training
    harness.tick(None)
    rows = [r for r in harness.outbox() if r["kind"] == "drift"]
    assert [(r["reference"], r["severity"]) for r in rows] == [("training", "critical")]
    _write(harness, 1, last_week=0.42)  # last week now differs: its first alert, no cooldown
    harness.tick("commit_seq:1")
    rows = [r for r in harness.outbox() if r["kind"] == "drift"]
    assert [(r["reference"], (r["window_start"] - T0) // HOUR) for r in rows] == [
        ("training", 0),
        ("last_week", 1),
    ]


def test_the_ui_metadata_counts_drifted_columns_per_reference():
    stable, drifted = _psi(0.03, "no_drift"), _psi(0.42, "significant")
    hour = WindowScores(
        "model_a",
        "hour",
        T0,
        T0 + HOUR,
        400,
        {"age": drifted, "income": stable},
        references={"last_week": {"age": stable, "income": drifted}},
    )
    metadata = hour_drift_metadata(hour)
    assert metadata["drifted_column_names"].value == ["age"]
    assert metadata["drifted_columns_last_week"].value == 1
    assert metadata["drifted_column_names_last_week"].value == ["income"]
