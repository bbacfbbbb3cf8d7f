"""The demo's regional drift: in its regional hour the northeast's income alone rises 20 %;
with a ``region`` segment the segment alerts (``region=northeast``, the population's number
beside it in the Slack line) and the population, of which 18 % moved, raises no alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from monitoring_pipelines.alerts.evaluate import enqueue_drift
from monitoring_pipelines.alerts.slack_messages import drift_message
from monitoring_pipelines.config import load_config
from monitoring_pipelines.demo.generate import decorrelated_hours, generate_demo
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.stats.alert_policy import AlertSettings, DriftRecord
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine

REPO = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 9, 17, tzinfo=UTC)  # the two hours before it are the day's busiest
H = timedelta(hours=1)
HOURS = 2  # hour 0: the northeast's income drifts; hour 1: clean but decorrelated


def _config(demo, root: Path) -> Path:
    """The repository's credit_risk deployment on the generated files, with a region segment."""
    [deployment] = yaml.safe_load((REPO / "monitors.yaml").read_text())["deployments"]
    for block in ("labels", "retraining", "validation", "performance_alerts"):
        deployment.pop(block, None)
    deployment |= {
        "reference": {"path": str(demo.reference_path)},
        "logs": {**deployment["logs"], "path": str(demo.logs_path)},
        "start": demo.start.isoformat(),
        "segments": [{"column": "region", "min_rows": 200}],
    }
    path = root / "monitors.yaml"
    path.write_text(yaml.safe_dump({"deployments": [deployment]}))
    return path


def test_the_regional_drift_alerts_for_the_region_only(tmp_path, sqlite_url):
    demo = generate_demo(
        tmp_path / "demo",
        END,
        hours=HOURS,
        drift_from_hour=HOURS,
        rows_per_hour=3_000,
        reference_rows=8_000,
        regional_hours=(0,),
    )
    assert decorrelated_hours(HOURS, HOURS) == (1,)  # not the regional hour
    config = load_config(_config(demo, tmp_path))
    deployment = config.deployment("credit_risk")
    engine = get_engine(sqlite_url)
    compute_baseline(config, deployment, engine)
    windows = [("credit_risk", demo.start + i * H) for i in range(HOURS)]
    aggregate_windows(config, engine, windows)
    score_windows(config, engine, windows)
    hour = demo.start
    rows = read_drift_scores(engine, "credit_risk", hour, hour + H, "hour", segment=None)
    settings = {"credit_risk": AlertSettings.from_mapping(deployment.alerts)}
    result = enqueue_drift(engine, [DriftRecord.from_mapping(r) for r in rows], settings)
    alerts = result.decision.alerts
    assert alerts, "the regional drift raised no alert"
    assert {(a.segment, a.column_name) for a in alerts} == {("region=northeast", "annual_income")}
    population = [
        r for r in rows if r["segment"] == "__all__" and r["column_name"] == "annual_income"
    ]
    assert population and not any(r["drifted"] for r in population)
    assert not any(r["drifted"] for r in rows if r["segment"] == "__all__")

    [message] = [drift_message(outbox.select_rows(engine, ids=list(result.alert_ids)))]
    lines = message["blocks"][2]["text"]["text"]
    assert lines.startswith(":") and "*annual_income*" in lines
    assert " in region=northeast " in lines and "(population " in lines
