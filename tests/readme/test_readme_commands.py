"""Every `monitoring-pipelines` and `dagster` command in the README's bash blocks is either run
here, as written, against a demo ending at the last complete hour as `make demo`'s does (the
README names hours relative to it), or listed with the reason it is not; a new README command
fails the first test until it is one or the other."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from contextlib import redirect_stdout
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest

from monitoring_pipelines import cli
from tests.conftest import DEMO_DRIFT_FROM, DEMO_DRIFTED, DEMO_HOURS, REPO, DemoRun

pytestmark = pytest.mark.slow
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
PROGRAMS = ("monitoring-pipelines ", "dagster ")

REPORT = "monitoring-pipelines report --deployment credit_risk --start latest-1d --end latest"
# command as written → the exit code it gives on the demo (run in this order: Dagster's first)
RUN = {
    "dagster asset materialize -m monitoring_pipelines.definitions --select baseline_statistics "
    "--partition credit_risk": 0,
    "dagster asset materialize -m monitoring_pipelines.definitions --select "
    "hourly_aggregates,drift_scores --partition-range \"credit_risk|$(date -u -d '-4 hours' "
    "+%Y-%m-%d-%H:00)...credit_risk|$(date -u -d '-1 hour' +%Y-%m-%d-%H:00)\"": 0,
    "dagster sensor start -m monitoring_pipelines.definitions drift_threshold_sensor": 0,
    "dagster sensor start -m monitoring_pipelines.definitions monitoring_run_failure_sensor": 0,
    "monitoring-pipelines status": 0,
    "monitoring-pipelines status --deployment credit_risk --json": 0,
    "monitoring-pipelines status --fail-on-drift": 1,
    "monitoring-pipelines alerts --json --limit 5": 0,
    "monitoring-pipelines backfill --deployment credit_risk --start latest-4h --end latest": 0,
    REPORT: 0,
    "monitoring-pipelines redeliver --status skipped": 1,  # Slack is not configured: not sent
}
NOT_RUN = {
    "monitoring-pipelines alerts [--limit N] [--kind drift ...] [--status failed ...] "
    "[--deployment ID] [--json]": "a synopsis (its forms are run above)",
    "monitoring-pipelines redeliver --status failed": "the demo has no failed rows to resend",
    "monitoring-pipelines redeliver --id 42 43 [--no-send] [--channel slack cloudwatch]":
        "a synopsis with example ids",
    "monitoring-pipelines metrics --port 9464": "serves until stopped (tests/cli/test_metrics.py "
    "runs it on a free port and scrapes it)",
    'dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -q '
    '"${MONITORING_CELERY_QUEUE:-monitoring}"': "needs a Celery broker (tests/service)",
}  # fmt: skip


def readme_commands() -> list[str]:
    """The README's command lines (continuations joined, comments dropped)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"\s+", " ", line)
            if line.startswith(PROGRAMS) or line.startswith("dagster-celery "):
                commands.append(line)
    return commands


def test_every_readme_command_is_run_or_says_why_not():
    found = readme_commands()
    assert found, "no commands found: the extraction is broken"
    unlisted = [c for c in found if c not in RUN and c not in NOT_RUN]
    assert unlisted == [], "add these README commands to RUN or NOT_RUN"
    stale = [c for c in [*RUN, *NOT_RUN] if c not in found]
    assert stale == [], "these listed commands are no longer in the README"


def _demo_now(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session demo's settings (no retraining pause), ending at the last complete hour as
    `make demo` does."""
    from monitoring_pipelines.defs.demo import DemoSettings, run_demo

    demo = DemoRun(None, "", home)
    demo.env(monkeypatch)
    settings = DemoSettings(hours=DEMO_HOURS, drift_from_hour=DEMO_DRIFT_FROM,
                            rows_per_hour=1500, reference_rows=6000, end=None,
                            retrain=False)  # fmt: skip
    run_demo(settings, StringIO())


def _run(command: str, env: dict[str, str]) -> tuple[int, str]:
    if command.startswith("monitoring-pipelines "):
        out = StringIO()
        with redirect_stdout(out):
            return cli.main(shlex.split(command)[1:]), out.getvalue()
    done = subprocess.run(  # through bash, as a reader would, for the $(date …) of the range
        ["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stdout + done.stderr


def _run_all(env: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Every RUN command's exit code and output, Dagster's first."""
    ordered = sorted(RUN, key=lambda c: not c.startswith("dagster"))
    return {command: _run(command, env) for command in ordered}


def test_the_readme_commands_work_as_written(tmp_path, monkeypatch):
    from monitoring_pipelines.defs.demo import last_complete_hour_end

    bin_dir = str(Path(sys.executable).parent)
    for attempt in range(2):  # the second starts just after an hour turned during the first
        latest, home = last_complete_hour_end(), tmp_path / f"home{attempt}"
        _demo_now(home, monkeypatch)
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        results = _run_all(env)
        if last_complete_hour_end() == latest:
            break
    for command, (code, output) in results.items():
        assert code == RUN[command], f"{command}\n{output[-3000:]}"
    outputs = {command: output for command, (_, output) in results.items()}
    status = json.loads(outputs["monitoring-pipelines status --deployment credit_risk --json"])
    instigators = status["instigators"]
    assert instigators["drift_threshold_sensor"] == "running"
    assert instigators["monitoring_run_failure_sensor"] == "running"
    (deployment,) = status["deployments"]
    assert set(deployment["drifted_columns"]) == DEMO_DRIFTED
    assert datetime.fromisoformat(deployment["last_hour"]) == latest - timedelta(hours=1)
    report = outputs[REPORT]
    assert Path(report.splitlines()[0]).is_file() and "status: drift" in report
