"""The notebook API: compare() equals the pipeline's stored scores for the same rows, snapshots
merge and round-trip exactly, the result renders the pipeline's HTML report, and a hand-worked
TVD on a categorical column."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.monitor import Monitor
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import DEMO_DRIFT_FROM, DEMO_DRIFTED, DEMO_END, DEMO_HOURS

FIRST = DEMO_END - timedelta(hours=DEMO_HOURS)
CLEAN, DRIFTED = FIRST + timedelta(hours=1), FIRST + timedelta(hours=DEMO_DRIFT_FROM + 1)
COMPARED = ["value", "p_value", "threshold", "status", "drifted", "reference_size", "current_size"]


@pytest.fixture(scope="module")
def demo_monitor(demo_run):
    with pytest.MonkeyPatch.context() as patch:
        demo_run.env(patch)
        yield Monitor.from_deployment("credit_risk"), demo_run.home / "demo" / "credit_risk"


def _hour_rows(root, hour) -> pd.DataFrame:
    return pd.read_parquet(hour_folder(root / "logs", hour))


@pytest.mark.parametrize("hour", [CLEAN, DRIFTED], ids=["clean", "drifted"])
def test_compare_equals_the_pipelines_stored_scores(demo_run, demo_monitor, monkeypatch, hour):
    monitor, root = demo_monitor
    result = monitor.compare(monitor.snapshot(_hour_rows(root, hour)))
    demo_run.env(monkeypatch)
    stored = pd.DataFrame(
        read_drift_scores(get_engine(), "credit_risk", hour, hour + timedelta(hours=1), "hour")
    )
    # segment_share (monitors.yaml's region key) is scored from the stored segments' rows,
    # which a notebook snapshot does not profile
    stored = stored[stored["metric"] != "segment_share"]
    stored = stored.rename(columns={"column_name": "column"}).set_index(["column", "metric"])
    mine = result.summary().set_index(["column", "metric"])
    assert sorted(mine.index) == sorted(stored.index)
    mine = mine.loc[stored.index]
    for name in ("value", "p_value", "threshold"):
        np.testing.assert_allclose(
            mine[name].astype(float), stored[name].astype(float), rtol=1e-9, equal_nan=True
        )
    for name in ("status", "drifted", "reference_size", "current_size"):
        assert list(mine[name]) == list(stored[name]), name
    assert set(result.drifted) == (DEMO_DRIFTED if hour == DRIFTED else set())


def test_snapshots_merge_and_round_trip_exactly(demo_monitor, tmp_path):
    monitor, root = demo_monitor
    frame = _hour_rows(root, DRIFTED)
    half = len(frame) // 2
    whole = monitor.compare(monitor.snapshot(frame)).summary()
    parts = monitor.snapshot(frame.iloc[:half], DRIFTED, DRIFTED + timedelta(minutes=30)).merge(
        monitor.snapshot(
            frame.iloc[half:], DRIFTED + timedelta(minutes=30), DRIFTED + timedelta(hours=1)
        )
    )
    assert (parts.start, parts.end, parts.rows) == (
        DRIFTED,
        DRIFTED + timedelta(hours=1),
        len(frame),
    )
    loaded = monitor.load_snapshot(parts.save(tmp_path / "snapshot.json"))
    assert (loaded.start, loaded.end, loaded.rows) == (parts.start, parts.end, parts.rows)
    for snapshot in (parts, loaded):
        merged = monitor.compare(snapshot).summary()
        pd.testing.assert_frame_equal(merged[["column", "metric", "status", "drifted"]],
                                      whole[["column", "metric", "status", "drifted"]])  # fmt: skip
        np.testing.assert_allclose(merged["value"].astype(float), whole["value"].astype(float),
                                   rtol=1e-9, equal_nan=True)  # fmt: skip


def test_the_result_renders_the_pipelines_report(demo_monitor, tmp_path):
    monitor, root = demo_monitor
    result = monitor.compare(_hour_rows(root, DRIFTED))
    page = result.save_html(tmp_path / "drift.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "default-src 'none'" in page
    for column in DEMO_DRIFTED:
        assert column in page
    frame = result._repr_html_()
    srcdoc = re.fullmatch(
        r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" [^>]*></iframe>', frame
    )
    assert srcdoc is not None
    inline = html.unescape(srcdoc[1])
    strip = re.compile(r"Generated [^<]* UTC")  # the rendering time
    assert strip.sub("", inline) == strip.sub("", page)
    assert result.status == "drift" and repr(result).startswith("<Comparison drift:")


def test_from_reference_infers_kinds_and_scores_tvd_as_by_hand():
    rng = np.random.default_rng(3)
    colours = np.array(["red", "green", "blue"])
    reference = pd.DataFrame({
        "colour": rng.choice(colours, 5000, p=[0.5, 0.3, 0.2]),
        "size": rng.normal(10, 2, 5000),
    })  # fmt: skip
    current = pd.DataFrame({
        "colour": rng.choice(colours, 4000, p=[0.2, 0.3, 0.5]),
        "size": rng.normal(10, 2, 4000),
    })  # fmt: skip
    monitor = Monitor.from_reference(reference, columns=["colour", "size"], calibrated=False)
    summary = monitor.compare(current).summary().set_index(["column", "metric"])
    p = reference["colour"].value_counts(normalize=True)
    q = current["colour"].value_counts(normalize=True)
    assert summary.loc[("colour", "tvd"), "value"] == pytest.approx(0.5 * (p - q).abs().sum())
    assert bool(summary.loc[("colour", "tvd"), "drifted"])
    assert not summary.loc["size", "drifted"].any()
    assert monitor.compare(current).drifted == ["colour"]


def test_bad_columns_name_the_column():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"columns \['b'\] are not in the reference data"):
        Monitor.from_reference(frame, columns=["a", "b"])


def test_the_notebook_api_imports_no_dagster():
    import subprocess
    import sys

    code = "import sys, monitoring_pipelines.monitor; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
