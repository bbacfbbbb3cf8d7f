"""The drift report after a retraining, on the session's retraining demo (hours 0-5 profiled
against baseline v1, drift from hour 4, v2 fitted at the pause, hours 6-7 against v2): a
report over pre-retraining hours is judged against v1 and says so; a range spanning the
retraining reports each version's hours apart."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import timedelta

import pandas as pd
import pytest

from monitoring_pipelines import cli
from monitoring_pipelines.report.model import DriftReport, SplitReport
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from tests.conftest import DEMO_DRIFT_FROM, DEMO_DRIFTED, DEMO_END, DEMO_HOURS

START = DEMO_END - timedelta(hours=DEMO_HOURS)
pytestmark = pytest.mark.slow


def _hour(index: int):
    return START + timedelta(hours=index)


def _raw_rows(home, hour) -> int:
    """Rows of the hour's scoring-log files, read with pandas (not through the pipeline)."""
    folder = home / "demo" / "credit_risk" / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    frames = [pd.read_parquet(path) for path in sorted(folder.glob("*.parquet"))]
    return sum(len(frame) for frame in frames)


@pytest.fixture
def store(retrained_demo_run, monkeypatch):
    from monitoring_pipelines.config import load_config
    from monitoring_pipelines.store.engine import get_engine

    retrained_demo_run.env(monkeypatch)
    return load_config(), get_engine()


def test_a_report_over_drifted_hours_before_the_retraining_is_judged_against_v1(
    retrained_demo_run, store
):
    """Before the fix this range raised NoDataError (exit 2): the report read only v2."""
    from monitoring_pipelines.pipeline.report import build_report
    from monitoring_pipelines.store.aggregates import baseline_timestamps
    from monitoring_pipelines.store.drift import read_drift_scores

    config, engine = store
    split = retrained_demo_run.result.split
    assert DEMO_DRIFT_FROM < split < DEMO_HOURS  # drifted hours exist on both sides
    v1, v2 = baseline_timestamps(engine, "credit_risk")
    hour = _hour(DEMO_DRIFT_FROM)
    report = build_report(config, engine, "credit_risk", hour, hour + timedelta(hours=1))
    assert isinstance(report, DriftReport)
    assert report.version.number == 1 and report.version.computed_at == v1
    assert not report.version.latest and report.hours == 1
    assert report.baseline.row_count == 6000  # the training reference, not v2's
    assert report.current.row_count == _raw_rows(retrained_demo_run.home, hour)
    assert set(report.drifted) >= DEMO_DRIFTED
    # the hour's scores equal those the pipeline stored for it when v1 was the latest
    stored = read_drift_scores(engine, "credit_risk", hour, hour + timedelta(hours=1), "hour")
    compared = 0
    for row in stored:
        if row["column_name"] == MULTIVARIATE:  # v1's reconstruction model was replaced
            assert MULTIVARIATE not in report.scores
            continue
        if row["metric"] == "segment_share":  # the region key's, from the stored segments
            continue  # (the report has no segments)
        ours = next(r for r in report.scores[row["column_name"]] if r.metric == row["metric"])
        assert ours.reference_size == row["reference_size"]
        if row["value"] is not None:
            assert ours.value == pytest.approx(row["value"], rel=1e-9, abs=1e-12)
            compared += 1
    assert compared > 20
    assert any("not re-scored against v1" in note for note in report.notes)
    # every drifted pre-retraining hour together: still v1, no exception
    drifted = build_report(config, engine, "credit_risk", hour, _hour(split))
    assert isinstance(drifted, DriftReport) and drifted.version.number == 1
    assert drifted.hours == split - DEMO_DRIFT_FROM and set(drifted.drifted) >= DEMO_DRIFTED
    assert v2 > v1


def test_a_range_spanning_the_retraining_reports_each_versions_hours_apart(
    retrained_demo_run, store, tmp_path
):
    from monitoring_pipelines.pipeline.report import build_report, write_report
    from monitoring_pipelines.report.html import render_html

    config, engine = store
    split = retrained_demo_run.result.split
    report = build_report(config, engine, "credit_risk", START, DEMO_END)
    assert isinstance(report, SplitReport)
    old, new = report.parts
    assert (old.version.number, old.version.latest) == (1, False)
    assert (new.version.number, new.version.latest) == (2, True)
    assert (old.hours, new.hours) == (split, DEMO_HOURS - split)
    assert (old.start, old.end, new.start, new.end) == (START, _hour(split), _hour(split), DEMO_END)
    assert old.current.row_count == sum(
        _raw_rows(retrained_demo_run.home, _hour(i)) for i in range(split)
    )
    assert {h.start for h in old.history} == {_hour(i) for i in range(split)}
    assert {h.start for h in new.history} == {_hour(i) for i in range(split, DEMO_HOURS)}
    reference = pd.read_parquet(retrained_demo_run.home / "demo/credit_risk/reference.parquet")
    assert (old.baseline.row_count, new.baseline.row_count) == (6000, len(reference))
    assert set(old.drifted) >= DEMO_DRIFTED and report.status == "drift"
    assert MULTIVARIATE in new.scores and MULTIVARIATE not in old.scores
    html = render_html(report)
    assert html.count('<section class="part"') == 2
    assert "Part 1:" in html and "against v1 (computed" in html
    assert "against v2 (computed" in html and "the latest)" in html
    ids = [f'id="column-{i}"' for i in range(len(old.scores) + len(new.scores))]
    assert all(html.count(i) == 1 for i in ids)  # unique across the parts
    written = write_report(report, tmp_path / "split.html")
    assert written.png is not None and written.png.stat().st_size > 0

    out = io.StringIO()
    argv = ["report", "--deployment", "credit_risk", "--start", START.isoformat(),
            "--end", DEMO_END.isoformat(), "--output", str(tmp_path / "cli.html")]  # fmt: skip
    with redirect_stdout(out):
        code = cli.main(argv)
    text = out.getvalue()
    assert code == 0, text
    assert "status: drift" in text
    assert f"{split} hours against baseline v1" in text
    assert f"{DEMO_HOURS - split} hours against baseline v2" in text and "the latest" in text


def test_the_split_report_renders_in_chromium(retrained_demo_run, store, browser, tmp_path):
    from monitoring_pipelines.pipeline.report import build_report, write_report

    config, engine = store
    report = build_report(config, engine, "credit_risk", START, DEMO_END)
    written = write_report(report, tmp_path / "split.html", png=False)
    visit = browser.visit(written.html)
    assert visit.rendered == "done", visit.console_errors
    assert visit.console_errors == [] and visit.requests == []
    charts = browser.evaluate("document.querySelectorAll('canvas').length")
    assert charts >= 2 * sum(len(part.scores) for part in report.parts) - 2
    assert "against v1" in visit.text and "against v2" in visit.text
