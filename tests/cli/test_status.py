"""`monitoring-pipelines status` and `alerts --json` on the session's demo: the last hour's
rows counted from the raw logs, its drift where the demo injected it, the newest alert as the
outbox holds it, the schedules' and sensors' state, and exit codes 0/1/2."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from monitoring_pipelines import cli
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.store.alerts import select_rows
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import DEMO_DRIFTED, DEMO_END

LAST_HOUR = DEMO_END - timedelta(hours=1)
INSTIGATORS = {"hourly_monitoring_schedule", "drift_threshold_sensor"}


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_status_json_tells_the_last_hour_its_drift_and_the_last_alert(
    demo_run, monkeypatch, capsys
):
    demo_run.env(monkeypatch)
    code, out = _run(capsys, "status", "--json")
    assert code == 0
    status = json.loads(out)
    (deployment,) = [d for d in status["deployments"] if d["deployment"] == "credit_risk"]
    assert deployment["last_hour"] == LAST_HOUR.isoformat()
    logs = demo_run.home / "demo" / "credit_risk" / "logs"
    assert deployment["rows"] == len(pd.read_parquet(hour_folder(logs, LAST_HOUR)))
    assert deployment["status"] == "drift"
    assert set(deployment["drifted_columns"]) == DEMO_DRIFTED
    newest = next(r for r in select_rows(get_engine(), deployment_id="credit_risk")
              if r["kind"] != "metrics")  # fmt: skip
    alert = deployment["last_alert"]
    assert (alert["id"], alert["kind"], alert["slack"]) == (
        newest["id"], newest["kind"], newest["slack_status"])  # fmt: skip
    assert status["instance_error"] is None
    assert set(status["instigators"]) >= INSTIGATORS
    assert set(status["instigators"].values()) <= {"running", "stopped"}


def test_status_table_and_fail_on_drift(demo_run, monkeypatch, capsys):
    demo_run.env(monkeypatch)
    code, out = _run(capsys, "status", "--deployment", "credit_risk", "--fail-on-drift")
    assert code == 1
    header, line = out.splitlines()[:2]
    assert header.split()[:2] == ["deployment", "last"]
    assert line.startswith(f"credit_risk  {LAST_HOUR:%Y-%m-%d %H:%M}")
    assert " drift " in line and "annual_income" in line
    assert "schedules and sensors (they tick while dagster-daemon runs):" in out
    assert "hourly_monitoring_schedule" in out


def test_status_without_an_instance_still_shows_the_store(demo_run, monkeypatch, capsys, tmp_path):
    demo_run.env(monkeypatch)
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{demo_run.home / 'monitoring.db'}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    code, out = _run(capsys, "status", "--deployment", "credit_risk")
    assert code == 0
    assert out.splitlines()[1].startswith(f"credit_risk  {LAST_HOUR:%Y-%m-%d %H:%M}")
    assert f"schedules and sensors: unknown (Dagster instance: FileNotFoundError: no Dagster " \
        f"instance at {tmp_path}" in out  # fmt: skip


def test_bad_arguments_exit_2_with_a_usage_line(demo_run, monkeypatch, capsys):
    demo_run.env(monkeypatch)
    for argv in (["status", "--bogus"], ["backfill-nothing"], ["alerts", "--limit", "0"]):
        with pytest.raises(SystemExit) as stopped:
            cli.main(argv)
        assert stopped.value.code == 2
        assert capsys.readouterr().err.startswith("usage: monitoring-pipelines")
    assert cli.main(["status", "--deployment", "nope"]) == 2
    assert "monitoring-pipelines: error:" in capsys.readouterr().err


def test_alerts_json_lists_the_outbox_rows_with_iso_times(demo_run, monkeypatch, capsys):
    demo_run.env(monkeypatch)
    code, out = _run(capsys, "alerts", "--json", "--limit", "40")  # past performance alerts
    assert code == 0
    rows = json.loads(out)
    expected = select_rows(get_engine(), limit=40)
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert rows[0]["created_at"] == expected[0]["created_at"].isoformat()
    drift = [r for r in rows if r["kind"] == "drift"]
    assert drift and all(r["column_name"] in DEMO_DRIFTED | {"__multivariate__"} for r in drift)


def test_every_command_has_help_and_demo_shows_its_defaults(capsys):
    for command in ("demo", "status", "backfill", "report", "alerts", "redeliver", "serve"):
        with pytest.raises(SystemExit) as stopped:
            cli.main([command, "--help"])
        assert stopped.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: monitoring-pipelines {command}")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("hours of logs to generate (default: 72)", "(default: 2000)",
                  "(default: latest)", "mean scored rows per hour"):  # fmt: skip
        assert shown in text
