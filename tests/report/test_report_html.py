"""The HTML drift report of the demo's drifted day: self-contained, rendered in headless
Chromium without console errors or network requests, drifted columns flagged, scores equal to
the pipeline's own; hostile names stay text."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from monitoring_pipelines import cli
from monitoring_pipelines.report.html import render_html
from monitoring_pipelines.report.model import DriftReport, HourScores
from monitoring_pipelines.stats.dataset import MULTIVARIATE, fit_baseline, profile_frame
from monitoring_pipelines.stats.scoring import score_window
from tests.conftest import DEMO_DRIFT_FROM, DEMO_DRIFTED, DEMO_END, DEMO_HOURS
from tools.browser import non_blank

START = DEMO_END - timedelta(hours=DEMO_HOURS)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report_file(demo_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        demo_run.env(patch)
        out = io.StringIO()
        argv = ["report", "--deployment", "credit_risk", "--start", START.isoformat(),
                "--end", DEMO_END.isoformat(), "--output", str(path)]  # fmt: skip
        from contextlib import redirect_stdout

        with redirect_stdout(out):
            code = cli.main(argv)
    return path, code, out.getvalue()


def test_the_report_command_writes_one_self_contained_file(report_file):
    path, code, output = report_file
    assert code == 0
    assert output.splitlines()[0] == str(path)
    assert "status: drift" in output
    html = path.read_text(encoding="utf-8")
    assert "default-src 'none'" in html  # the page may not fetch anything
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="application/json" id="report-data">',
        "<script>",
        "<script>",
    ]  # the data, the inlined Vega bundle, the bootstrap; no src
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"(src|href)=", markup)
    assert 0.5e6 < len(html.encode()) < 3e6


def test_the_report_renders_in_chromium_without_errors_or_requests(report_file, browser, tmp_path):
    path, _, _ = report_file
    visit = browser.visit(path)
    assert visit.rendered == "done", visit.console_errors
    assert visit.console_errors == []
    assert visit.requests == []
    charts = browser.evaluate("document.querySelectorAll('canvas').length")
    assert charts >= 2 * len(DEMO_DRIFTED)
    flagged = browser.evaluate(
        "[...document.querySelectorAll('table.scores tr.drifted td:first-child')]"
        ".map(td => td.firstChild.textContent.trim())"
    )
    assert set(flagged) - {MULTIVARIATE} == DEMO_DRIFTED
    assert "status\ndrift" in visit.text or "status\tdrift" in visit.text
    shot = tmp_path / "report.png"
    shot.write_bytes(visit.screenshot)
    assert non_blank(shot.read_bytes())


def test_the_report_scores_equal_the_pipelines_day_scores(demo_run, monkeypatch):
    """The demo's 8 hours are 16:00-24:00 of one day: the day window the pipeline stored
    (00:00-24:00, data from 16:00 on) merges exactly the report's hours."""
    from monitoring_pipelines.config import load_config
    from monitoring_pipelines.pipeline.report import build_report
    from monitoring_pipelines.store.drift import read_drift_scores
    from monitoring_pipelines.store.engine import get_engine

    demo_run.env(monkeypatch)
    engine = get_engine()
    report = build_report(load_config(), engine, "credit_risk", START, DEMO_END)
    day = DEMO_END - timedelta(days=1)
    stored = read_drift_scores(engine, "credit_risk", day, DEMO_END, "day")
    assert stored and {r["window_start"] for r in stored} == {day}
    assert len(report.history) == DEMO_HOURS
    # the multivariate score is in the report like in drift_scores (checked just below)
    assert set(report.drifted) - {MULTIVARIATE} == DEMO_DRIFTED
    assert MULTIVARIATE in report.scores
    shares = [r for r in stored if r["metric"] == "segment_share"]  # the region key's
    assert [r["column_name"] for r in shares] == ["region"]  # (the report has no segments)
    for row in (r for r in stored if r["metric"] != "segment_share"):
        result = next(r for r in report.scores[row["column_name"]] if r.metric == row["metric"])
        assert result.drifted == row["drifted"]
        for ours, theirs in ((result.value, row["value"]), (result.p_value, row["p_value"])):
            assert (ours is None) == (theirs is None) or np.isnan(ours)
            if theirs is not None:
                assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)
    clean = [h for h in report.history if h.start < START + timedelta(hours=DEMO_DRIFT_FROM)]
    assert clean and all(  # before the drift only the shuffled hours' multivariate score
        not r.drifted for h in clean for c, rs in h.scores.items() if c != MULTIVARIATE for r in rs
    )


def test_report_exit_codes(demo_run, monkeypatch, capsys, tmp_path):
    demo_run.env(monkeypatch)
    base = ["report", "--deployment", "credit_risk", "--output", str(tmp_path / "r.html")]
    period = ["--start", START.isoformat(), "--end", DEMO_END.isoformat()]
    assert cli.main([*base, *period, "--fail-on-drift"]) == 1
    clean_end = (START + timedelta(hours=DEMO_DRIFT_FROM)).isoformat()
    assert cli.main([*base, "--start", START.isoformat(), "--end", clean_end,
                     "--fail-on-drift"]) == 0  # fmt: skip
    assert "status: stable" in capsys.readouterr().out
    assert cli.main(["report", "--deployment", "nope", *period]) == 2
    assert "nope" in capsys.readouterr().err
    empty = ["--start", "2020-01-01T00:00", "--end", "2020-01-02T00:00"]
    assert cli.main([*base, *empty]) == 2
    assert "no hourly_aggregates" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["report", "--deployment", "credit_risk", "--start", "2026-11-09T00:30",
                  "--end", DEMO_END.isoformat()])  # fmt: skip
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


HOSTILE_COLUMN = '<img src=x onerror="window.__pwned=1">'
HOSTILE_CATEGORY = "</script><script>window.__pwned=2</script>"


def _hostile_report() -> DriftReport:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame(
        {HOSTILE_COLUMN: rng.normal(size=2000), "kind": rng.choice(["a", "b"], size=2000)}
    )
    current = pd.DataFrame(
        {
            HOSTILE_COLUMN: rng.normal(2.0, size=2000),
            "kind": rng.choice(["a", HOSTILE_CATEGORY, "<!channel>"], size=2000),
        }
    )
    kinds = {HOSTILE_COLUMN: "numerical", "kind": "categorical"}
    baseline = fit_baseline(reference, kinds)
    window = profile_frame(current, baseline)
    scores = score_window(baseline, window)
    hour = datetime(2026, 11, 1, tzinfo=UTC)
    return DriftReport(
        title="<script>window.__pwned=3</script>",
        baseline=baseline,
        current=window,
        scores=scores,
        history=[HourScores(hour, scores), HourScores(hour + timedelta(hours=1), scores)],
    )


def test_hostile_names_are_text_in_the_report(browser, tmp_path):
    report = _hostile_report()
    assert set(report.drifted) == {HOSTILE_COLUMN, "kind"}
    html = render_html(report)
    assert HOSTILE_COLUMN not in html and HOSTILE_CATEGORY not in html
    assert "<script>window.__pwned" not in html
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    visit = browser.visit(path)
    assert visit.rendered == "done", visit.console_errors
    assert visit.console_errors == [] and visit.requests == []
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert HOSTILE_COLUMN in visit.text  # shown, as text
    assert browser.evaluate("document.title") == "Drift report: <script>window.__pwned=3</script>"


def test_the_hourly_job_links_its_report_and_a_png_of_the_top_column(demo_run):
    import base64

    import dagster as dg

    with dg.DagsterInstance.from_config(str(demo_run.home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey("drift_report"), limit=100).records
    assert len({r.partition_key for r in records}) == DEMO_HOURS  # each hour its own event
    hours = [r.asset_materialization.metadata for r in records]
    assert {(m["report"].value, m["report_period"].value) for m in hours} == {
        (hours[0]["report"].value, "2026-11-09 00:00 – 2026-11-10 00:00 UTC")
    }  # one report for the run, and each hour says so
    assert all(
        m["report_covers"].value.startswith("credit_risk's hours of this run") for m in hours
    )
    metadata = records[0].asset_materialization.metadata
    path = metadata["report"].value
    assert path.startswith(str(demo_run.home / "reports" / "credit_risk"))
    assert "<title>Drift report: credit_risk</title>" in Path(path).read_text(encoding="utf-8")
    # the demo's run covers 16:00-24:00, reported with the trailing day
    assert metadata["report_period"].value == "2026-11-09 00:00 – 2026-11-10 00:00 UTC"
    assert metadata["report_status"].value == "drift"
    assert metadata["report_drifted_columns"].value == len(DEMO_DRIFTED)  # day: 1.8 σ, stable
    markdown = metadata["top_drifted_column"].value
    encoded = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    image = Image.open(io.BytesIO(base64.b64decode(encoded.group(1))))
    assert image.format == "PNG" and 200 < image.width < 1000
    assert non_blank(base64.b64decode(encoded.group(1)))
