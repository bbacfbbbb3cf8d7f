"""The provisioned Grafana dashboard's SQL runs on the real PostgreSQL store: the demo's rows
copied into a fresh schema (at head, with the per-deployment view), each panel's and
variable's query run with Grafana's macros expanded, and the answers checked against the demo."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select, text

from monitoring_pipelines.demo.generate import decorrelated_hours
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.store.aggregates import read_windows
from monitoring_pipelines.store.engine import ensure_deployment_views, get_engine
from monitoring_pipelines.store.schema import aggregates, alerts, drift_scores, model_performance
from tests.conftest import (
    DEMO_DRIFT_FROM,
    DEMO_DRIFTED,
    DEMO_END,
    DEMO_HOURS,
    REPO,
    postgres_schema,
)

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "monitoring_pipelines.json").read_text())
FIRST = DEMO_END - timedelta(hours=DEMO_HOURS)
FROM, TO = datetime(2026, 11, 7, tzinfo=UTC), DEMO_END  # a range holding the session's demo
VARIABLES = {"deployment": "credit_risk", "metric": "psi"}


def expand(sql: str) -> str:
    """Grafana's expansion of the macros and variables the dashboard uses."""
    sql = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m[1]} BETWEEN '{FROM.isoformat()}' AND '{TO.isoformat()}'",
        sql,
    )
    for name, value in VARIABLES.items():
        sql = sql.replace(f"${name}", value)
    assert "$" not in sql, f"an unexpanded macro or variable in {sql}"
    return sql


@pytest.fixture(scope="module")
def answers(demo_run):
    """Each panel's query result (title → rows) and each variable's, on a copy of the demo."""
    source = get_engine(f"sqlite:///{demo_run.home / 'monitoring.db'}")
    with postgres_schema("mp_grafana") as url:
        engine = get_engine(url)
        with source.connect() as read, engine.begin() as write:
            for table in (aggregates, drift_scores, alerts, model_performance):
                rows = [dict(r) for r in read.execute(select(table)).mappings()]
                for row in rows:  # SQLite hands back naive UTC datetimes
                    row.update({k: v.replace(tzinfo=UTC) for k, v in row.items()
                                if isinstance(v, datetime) and v.tzinfo is None})  # fmt: skip
                if rows:
                    write.execute(table.insert(), rows)
        ensure_deployment_views(engine, ["credit_risk"])
        results = {}
        with engine.connect() as conn:
            for panel in DASHBOARD["panels"]:
                (target,) = panel["targets"]
                results[panel["title"]] = conn.execute(text(expand(target["rawSql"]))).all()
            for variable in DASHBOARD["templating"]["list"]:
                results[variable["name"]] = conn.execute(text(expand(variable["query"]))).all()
        windows = read_windows(source, "credit_risk", FIRST, DEMO_END, _baseline(source))
        alert_count = len([r for r in read_alerts(source) if r["kind"] != "metrics"])
        engine.dispose()
        yield results, windows, alert_count


def _baseline(engine):
    from monitoring_pipelines.store.aggregates import read_baseline

    return read_baseline(engine, "credit_risk")


def read_alerts(engine):
    from monitoring_pipelines.store.alerts import select_rows

    return select_rows(engine)


def test_the_dashboard_is_well_formed_and_provisioned():
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    assert DASHBOARD["time"] == {"from": "now-3d", "to": "now"}  # `make demo` ends now
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/monitoring.yaml").read_text())
    (source,) = datasource["datasources"]
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert panel["targets"][0]["datasource"]["uid"] == source["uid"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
    assert "password" not in source.get("jsonData", {})
    assert source["secureJsonData"]["password"].startswith("${")
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/monitoring.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_rows_per_hour_equal_the_stored_windows(answers):
    results, windows, _ = answers
    rows = {time.astimezone(UTC): count for time, count in results["Rows per hour"]}
    assert rows == {hour: profile.row_count for hour, profile in windows.items()}
    assert len(rows) == DEMO_HOURS


def test_drift_panels_show_the_injected_drift(answers):
    results, windows, _ = answers
    drifted = {t.astimezone(UTC): n for t, n in results["Drifted columns per hour"]}
    hours = sorted(windows)
    assert [drifted[h] for h in hours] == [0] * 4 + [len(DEMO_DRIFTED)] * 4
    assert results["Drifted columns (last profiled hour)"][0][1] == len(DEMO_DRIFTED)
    psi = results["$metric per column (hourly)"]
    assert {column for _, column, _ in psi} >= DEMO_DRIFTED
    assert len({t for t, _, _ in psi}) == DEMO_HOURS
    assert results["deployment"] == [("credit_risk",)]
    assert ("psi",) in results["metric"]


def test_the_alerts_panel_lists_the_outbox(answers):
    results, _, alert_count = answers
    table = results["Alerts and their delivery"]
    assert len(table) == alert_count > 0
    drifted = {row.column_name for row in table if row.kind == "drift"}
    assert drifted <= DEMO_DRIFTED | {MULTIVARIATE}


def test_the_multivariate_panel_shows_the_shuffled_hours_above_their_band(answers):
    results, windows, _ = answers
    rows = results["Multivariate drift: mean reconstruction error and its band (hourly)"]
    above = {t.astimezone(UTC) for t, error, lower, upper in rows if error > upper}
    assert all(lower < upper for _, _, lower, upper in rows) and len(rows) == DEMO_HOURS
    hours = sorted(windows)
    assert above == {hours[i] for i in decorrelated_hours(DEMO_HOURS, DEMO_DRIFT_FROM)}
