"""`monitoring-pipelines metrics` scraped over HTTP with a real client: the demo's last hour
(drift detected, drifted columns, rows counted from the raw logs, freshness, the largest drift
score computed here from the stored rows) and performance from the newest labelled window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from monitoring_pipelines.prometheus import latest_performance
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import model_performance
from tests.conftest import DEMO_DRIFTED, DEMO_END, REPO

LAST_HOUR = DEMO_END - timedelta(hours=1)


# The CLI started with SIGTERM ignored, as a child of a process where SIGINT is ignored (a
# shell's background job, e.g. CI) after Dagster copied SIGINT's disposition onto SIGTERM.
IGNORING_SIGTERM = (
    "import runpy, signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "sys.argv = ['monitoring-pipelines', 'metrics', '--port', '0']; "
    "runpy.run_module('monitoring_pipelines.cli', run_name='__main__')"
)


@pytest.fixture
def endpoint(demo_run, monkeypatch):
    """The CLI's endpoint on a free port, on the demo's store; stopped by SIGTERM to its pid,
    which it must obey even though it inherited SIGTERM ignored."""
    demo_run.env(monkeypatch)
    command = [sys.executable, "-c", IGNORING_SIGTERM]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), line
        yield line.split()[1]
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            returncode = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise AssertionError("the metrics server outlived SIGTERM by 30 s") from None
    assert returncode == 0, f"the metrics server exited with {returncode} on SIGTERM"


def _largest_distance(rows: list[dict]) -> float:
    """The value of the real columns' distance metric largest relative to its threshold (the
    ``__multivariate__`` pseudo-column left out), from stored rows."""
    distances = [r for r in rows if r["value"] is not None and r["threshold"]
                 and r["column_name"] != "__multivariate__"
                 and get_spec(r["metric"]).decision == "distance"]  # fmt: skip
    return max(distances, key=lambda r: r["value"] / r["threshold"])["value"]


def test_a_scrape_shows_the_demos_last_hour(endpoint, demo_run):
    response = requests.get(endpoint, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    mine = [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.labels.get("deployment") == "credit_risk"
    ]
    samples = {sample.name: sample for sample in mine}
    assert samples["model_drift_detected"].value == 1
    assert samples["model_drifted_columns"].value == len(DEMO_DRIFTED)
    logs = demo_run.home / "demo" / "credit_risk" / "logs"
    assert samples["model_rows"].value == len(pd.read_parquet(hour_folder(logs, LAST_HOUR)))
    assert samples["model_last_hour_end_timestamp_seconds"].value == DEMO_END.timestamp()
    stored = read_drift_scores(get_engine(), "credit_risk", LAST_HOUR, DEMO_END, "hour")
    assert samples["model_drift_score_max"].value == pytest.approx(_largest_distance(stored))
    performance = {s.labels["metric"]: s.value for s in mine if s.name == "model_performance"}
    with get_engine().connect() as conn:
        stored = conn.execute(select(model_performance)).mappings().all()
    newest: dict[str, tuple] = {}
    for row in stored:  # the newest realized window's value of each metric, picked in Python
        if (row["deployment_id"], row["kind"]) == ("credit_risk", "realized") and row[
            "value"
        ] is not None:
            newest[row["metric"]] = max(newest.get(row["metric"], (row["window_start"], 0.0)),
                                        (row["window_start"], row["value"]))  # fmt: skip
    assert performance == pytest.approx({metric: value for metric, (_, value) in newest.items()})


def test_performance_is_the_newest_labelled_window(sqlite_engine):
    now = datetime(2026, 11, 9, 12, tzinfo=UTC)
    rows = [
        ("accuracy", now, 0.91), ("accuracy", now + timedelta(hours=1), 0.84),
        ("f1", now, 0.70), ("rmse", now + timedelta(hours=2), None),
    ]  # fmt: skip
    with sqlite_engine.begin() as conn:
        conn.execute(model_performance.insert(), [
            {"deployment_id": "credit_risk", "window_start": start,
             "window_end": start + timedelta(hours=1), "metric": metric, "value": value,
             "n_labelled": 100, "computed_at": now}
            for metric, start, value in rows
        ])  # fmt: skip
    assert latest_performance(sqlite_engine, "credit_risk") == {"accuracy": 0.84, "f1": 0.70}
    assert latest_performance(sqlite_engine, "other") == {}
