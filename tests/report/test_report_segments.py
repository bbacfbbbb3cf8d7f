"""The report's segment selector on the demo's regional drift: one ``<select>`` and one panel
per stored segment (the first shown, the page still one self-contained file), each panel's
drift and performance numbers equal to the store's (recomputed here with pandas from the
drift_scores and model_performance rows), the drifted region visible beside a stable
population; segment names stay text."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import select

from monitoring_pipelines.config import load_config
from monitoring_pipelines.demo.generate import generate_demo
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.pipeline.report import build_report
from monitoring_pipelines.report.html import render_html
from monitoring_pipelines.report.segments import SegmentRow, SegmentView, Worst, segment_section
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import drift_scores, model_performance

REPO = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 9, 17, tzinfo=UTC)
H = timedelta(hours=1)
HOURS = 2  # hour 0: the northeast's income drifts


class Tree(HTMLParser):
    """Every element with its attributes, text and the tags of its ancestors."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self.stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "parents": list(self.stack)}
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self.stack:
            element["text"] += data

    def find(self, tag: str, within: dict | None = None, **attrs) -> list[dict]:
        return [
            e
            for e in self.elements
            if e["tag"] == tag
            and all(e["attrs"].get(k.rstrip("_")) == v for k, v in attrs.items())
            and (within is None or any(p is within for p in e["parents"]))
        ]


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    return tree


@pytest.fixture(scope="module")
def regional(tmp_path_factory):
    """The demo's two regional hours, aggregated, scored and with performance, with a
    ``region`` segment; the report of both hours."""
    root = tmp_path_factory.mktemp("regional")
    demo = generate_demo(
        root / "demo", END, hours=HOURS, drift_from_hour=HOURS, rows_per_hour=3_000,
        reference_rows=8_000, regional_hours=(0,),
    )  # fmt: skip
    [deployment] = yaml.safe_load((REPO / "monitors.yaml").read_text())["deployments"]
    for block in ("retraining", "validation", "performance_alerts"):
        deployment.pop(block, None)
    deployment |= {
        "reference": {"path": str(demo.reference_path)},
        "logs": {**deployment["logs"], "path": str(demo.logs_path)},
        "labels": {**deployment["labels"], "path": str(demo.labels_path)},
        "start": demo.start.isoformat(),
        "segments": [{"column": "region", "min_rows": 20}],  # few labels arrive in the demo
    }
    path = root / "monitors.yaml"
    path.write_text(yaml.safe_dump({"deployments": [deployment]}))
    config = load_config(path)
    engine = get_engine(f"sqlite:///{root / 'store.db'}")
    compute_baseline(config, config.deployment("credit_risk"), engine)
    windows = [("credit_risk", demo.start + i * H) for i in range(HOURS)]
    aggregate_windows(config, engine, windows)
    score_windows(config, engine, windows)
    performance_windows(config, engine, windows, now=END + 200 * H)
    report = build_report(config, engine, "credit_risk", demo.start, END)
    return engine, report, render_html(report)


def stored_drift(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(drift_scores).where(drift_scores.c.granularity == "hour"))
        return pd.DataFrame([r._asdict() for r in rows])


def expected_worst(rows: pd.DataFrame) -> tuple[float | None, int, int]:
    """The shown number of the worst judged hour, the hours drifted, the hours."""
    p_value = get_spec(rows.metric.iloc[0]).decision == "p_value"
    shown = rows.p_value if p_value else rows.value
    judged = ~rows.status.isin(["insufficient_data", "undefined"]) & shown.notna()
    judged &= rows.threshold.fillna(0) != 0
    ratio = (rows.threshold / shown.clip(lower=1e-300)) if p_value else shown / rows.threshold
    drifted, hours = int(rows.drifted.sum()), len(rows)
    if not judged.any():
        return None, drifted, hours
    return float(shown[judged][ratio[judged].idxmax()]), drifted, hours


def number(cell: dict) -> float | None:
    value = cell["attrs"]["data-value"]
    return float(value) if value else None


def test_one_selector_and_one_panel_per_segment_in_a_self_contained_page(regional):
    engine, _, html = regional
    tree = parse(html)
    stored = stored_drift(engine)
    segments = sorted(set(stored.segment) - {ALL})
    assert segments and "region=northeast" in segments
    (select_,) = tree.find("select")
    assert select_["attrs"]["id"] == "segment-select"
    assert len(tree.find("label", for_="segment-select")) == 1
    options = tree.find("option", within=select_)
    assert [o["attrs"]["value"] for o in options] == [str(i) for i in range(len(segments))]
    assert [o["text"].split(" — ")[0] for o in options] == segments
    panels = tree.find("div", class_="segment")
    assert [p["attrs"]["data-segment"] for p in panels] == segments
    assert ["hidden" in p["attrs"] for p in panels] == [False] + [True] * (len(segments) - 1)
    assert all(p["parents"][-1]["attrs"].get("id") == "segments" for p in panels)
    # still one file: no element fetches anything, the selector's script is inline
    assert not [e for e in tree.elements if {"src", "href"} & set(e["attrs"])]
    assert [e["attrs"] for e in tree.find("script")] == [
        {"type": "application/json", "id": "report-data"},
        {},
        {},
    ]
    assert "select.segment-select" in tree.find("script")[-1]["text"]


def test_each_panel_shows_the_stores_numbers_beside_the_population(regional):
    engine, _, html = regional
    tree = parse(html)
    stored = stored_drift(engine)
    for panel in tree.find("div", class_="segment"):
        segment = panel["attrs"]["data-segment"]
        mine = stored[stored.segment == segment]
        (table,) = tree.find("table", within=panel, class_="scores segment-drift")
        rows = tree.find("tr", within=table)[1:]
        assert len(rows) == len(mine.groupby(["column_name", "metric"]))
        for row in rows:
            column, metric = row["attrs"]["data-column"], row["attrs"]["data-metric"]
            cells = tree.find("td", within=row)
            for at, who in ((2, mine), (4, stored[stored.segment == ALL])):
                part = who[(who.column_name == column) & (who.metric == metric)]
                value, drifted, hours = expected_worst(part)
                if value is None:
                    assert number(cells[at]) is None
                else:
                    assert number(cells[at]) == pytest.approx(value, rel=1e-12)
                assert cells[at + 1]["text"] == f"{drifted} of {hours}"

    with engine.connect() as conn:
        performance = pd.DataFrame([r._asdict() for r in conn.execute(select(model_performance))])
    realized = performance[(performance.kind == "realized") & performance.value.notna()]
    shown = 0
    for panel in tree.find("div", class_="segment"):
        segment = panel["attrs"]["data-segment"]
        tables = tree.find("table", within=panel, class_="scores segment-performance")
        for row in tree.find("tr", within=tables[0])[1:] if tables else []:
            metric = row["attrs"]["data-metric"]
            cells = tree.find("td", within=row)
            for at, who in ((1, segment), (2, ALL)):
                part = realized[(realized.segment == who) & (realized.metric == metric)]
                if part.empty:
                    assert number(cells[at]) is None
                    continue
                weighted = (part.value * part.n_labelled).sum() / part.n_labelled.sum()
                assert number(cells[at]) == pytest.approx(weighted, rel=1e-9)
                shown += metric == "accuracy" and who == segment
    assert shown == 4  # every region has its accuracy (hour 0's labels) beside the population


def test_the_drifted_region_stands_out_beside_a_stable_population(regional):
    _, report, html = regional
    tree = parse(html)
    (northeast,) = [
        p
        for p in tree.find("div", class_="segment")
        if p["attrs"]["data-segment"] == "region=northeast"
    ]
    (row,) = tree.find(
        "tr", within=northeast, **{"data-column": "annual_income", "data-metric": "psi"}
    )
    cells = tree.find("td", within=row)
    assert cells[2]["attrs"]["class"] == "drift" and cells[3]["text"] == "1 of 2"
    assert cells[4]["attrs"]["class"] != "drift" and cells[5]["text"] == "0 of 2"
    (option,) = [o for o in tree.find("option") if o["text"].startswith("region=northeast")]
    assert option["text"] == "region=northeast — 1 drifted column(s)"
    assert "annual_income" not in report.drifted  # the population's income did not drift


def test_segment_names_stay_text():
    hostile = '<img src=x onerror=alert(1)>"'
    result = DriftResult("psi", 0.5, None, 0.1, "significant", True, 100, 100)
    worst = Worst(result, datetime(2026, 1, 1, tzinfo=UTC), 1, 1)
    view = SegmentView(f"region={hostile}", 1, (SegmentRow(hostile, "psi", worst, worst),))
    html = segment_section([view])
    tree = parse(html)
    assert not tree.find("img")
    (panel,) = tree.find("div", class_="segment")
    assert panel["attrs"]["data-segment"] == f"region={hostile}"
    assert tree.find("tr", within=panel)[1]["attrs"]["data-column"] == hostile
    assert math.isclose(number(tree.find("td", within=panel)[2]), 0.5)
    assert segment_section([]) == ""


def test_choosing_a_segment_shows_its_panel_alone_in_chromium(regional, browser, tmp_path):
    _, _, html = regional
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    visit = browser.visit(path)
    assert visit.rendered == "done", visit.console_errors
    assert visit.console_errors == [] and visit.requests == []
    shown = (
        "[...document.querySelectorAll('div.segment')]"
        ".filter(d => !d.hidden).map(d => d.dataset.segment)"
    )
    first = browser.evaluate(shown)
    assert first == [browser.evaluate("document.querySelector('div.segment').dataset.segment")]
    browser.evaluate(
        "(() => { const s = document.getElementById('segment-select');"
        " s.value = [...s.options].find(o => o.text.startsWith('region=northeast')).value;"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert browser.evaluate(shown) == ["region=northeast"]
