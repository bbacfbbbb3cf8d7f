"""`monitoring-pipelines backfill` on the session's demo: one run on the demo's instance with a
progress bar per asset, rows equal to the raw logs, drift where the demo injected it, the
summary and JSON, and exit codes 0/1/2."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest

from monitoring_pipelines import cli
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from tests.conftest import DEMO_DRIFT_FROM, DEMO_DRIFTED, DEMO_END, DEMO_HOURS, DemoRun

FIRST = DEMO_END - timedelta(hours=DEMO_HOURS)
# one hour with loan_amount shuffled (multivariate drift only), then two drifted
START = FIRST + timedelta(hours=DEMO_DRIFT_FROM - 1)
END = START + timedelta(hours=3)


@pytest.fixture(scope="module")
def demo_copy(demo_run, tmp_path_factory) -> DemoRun:
    """A copy of the session's demo: a backfill adds runs and materializations that the
    tests reading the demo's latest ones must not see."""
    home = tmp_path_factory.mktemp("backfill") / "home"
    shutil.copytree(demo_run.home, home)
    return DemoRun(demo_run.result, demo_run.output, home)


RANGE = ["--deployment", "credit_risk", "--start", START.isoformat(), "--end", END.isoformat()]


def test_backfill_runs_the_range_as_one_run_with_progress(demo_copy, monkeypatch, capsys):
    demo_copy.env(monkeypatch)
    assert cli.main(["backfill", *RANGE, "--json", "--fail-on-drift"]) == 1
    captured = capsys.readouterr()
    outcome = json.loads(captured.out)
    assert outcome["success"] and outcome["error"] is None
    logs = demo_copy.home / "demo" / "credit_risk" / "logs"
    hours = [START + timedelta(hours=i) for i in range(3)]
    assert [h["hour"] for h in outcome["hours"]] == [h.isoformat() for h in hours]
    assert [h["rows"] for h in outcome["hours"]] == [
        len(pd.read_parquet(hour_folder(logs, h))) for h in hours
    ]
    drifted = [set(h["drifted_columns"]) for h in outcome["hours"]]
    assert drifted == [{MULTIVARIATE}, DEMO_DRIFTED, DEMO_DRIFTED]
    for asset in ("hourly_aggregates", "drift_scores"):  # rich's bar, final state
        assert any(asset in line and "3/3" in line for line in captured.err.splitlines())
    with dg.DagsterInstance.from_config(str(demo_copy.home)) as instance:
        run = instance.get_run_by_id(outcome["run_id"])
        assert run.status == dg.DagsterRunStatus.SUCCESS
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("drift_scores")), limit=20
        ).records
    mine = sorted(r.partition_key for r in records if r.run_id == run.run_id)
    assert mine == [f"credit_risk|{h:%Y-%m-%d-%H:%M}" for h in hours]


def test_backfill_summary_names_the_drifted_hours_and_the_next_step(demo_copy, monkeypatch, capsys):
    demo_copy.env(monkeypatch)
    one_hour = [*RANGE[:3], (START + timedelta(hours=1)).isoformat(), "--end",
                (START + timedelta(hours=2)).isoformat()]  # fmt: skip
    assert cli.main(["backfill", *one_hour]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("credit_risk: 1 hour ") and "succeeded" in lines[0]
    assert lines[2] == (
        f"drifted hours: 1 (first {START + timedelta(hours=1):%Y-%m-%d %H:%M}, last "
        f"{START + timedelta(hours=1):%Y-%m-%d %H:%M}); columns: " + ", ".join(sorted(DEMO_DRIFTED))
    )
    assert lines[3].startswith("next: monitoring-pipelines report --deployment credit_risk")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", END.isoformat(), "--end", START.isoformat()], "is not before --end"),
        (["--start", "2020-01-01T00:00", "--end", "2020-01-01T03:00"], "is before credit_risk"),
        (["--start", START.isoformat(), "--end", "2999-01-01T00:00"], "last complete hour"),
    ],
)
def test_backfill_rejects_a_bad_range_with_exit_2(demo_copy, monkeypatch, capsys, argv, message):
    demo_copy.env(monkeypatch)
    assert cli.main(["backfill", "--deployment", "credit_risk", *argv]) == 2
    assert message in capsys.readouterr().err


def test_backfill_usage_errors_exit_2(demo_copy, monkeypatch, capsys):
    demo_copy.env(monkeypatch)
    assert cli.main(["backfill", *RANGE[2:], "--deployment", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["backfill", "--start", START.isoformat(), "--end", END.isoformat()])
    assert stopped.value.code == 2
    assert "the following arguments are required: --deployment" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["backfill", "--deployment", "credit_risk", "--start", "yesterday", *RANGE[4:]])
    assert stopped.value.code == 2
    assert "--start: 'yesterday' is not an ISO hour (e.g. 2026-11-09T00:00" in (
        capsys.readouterr().err
    )


def test_backfill_without_quality_checks_runs_only_the_drift_check(demo_copy, monkeypatch, capsys):
    demo_copy.env(monkeypatch)
    hour = ["--start", START.isoformat(), "--end", (START + timedelta(hours=1)).isoformat()]
    argv = ["backfill", "--deployment", "credit_risk", *hour, "--json"]
    assert cli.main([*argv, "--without-quality-checks"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    with dg.DagsterInstance.from_config(str(demo_copy.home)) as instance:
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    checks = {r.event_log_entry.dagster_event.event_specific_data.check_name for r in records}
    assert checks == {"drift"}
