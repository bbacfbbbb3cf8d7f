"""Every `monitoring-pipelines` and `dagster` command in the README's bash blocks is either run
here, as written, against a copy of the session's demo (whose hours lie inside the README's
dates), or listed with the reason it is not; a new README command fails the first test until
it is one or the other."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

from monitoring_pipelines import cli
from tests.conftest import DEMO_DRIFTED, REPO, DemoRun

pytestmark = pytest.mark.slow
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
PROGRAMS = ("monitoring-pipelines ", "dagster ")

# command as written → the exit code it gives on the demo (run in this order: Dagster's first)
RUN = {
    "dagster asset materialize -m monitoring_pipelines.definitions --select baseline_statistics "
    "--partition credit_risk": 0,
    "dagster asset materialize -m monitoring_pipelines.definitions --select "
    'hourly_aggregates,drift_scores --partition-range "credit_risk|2026-11-09-20:00...'
    'credit_risk|2026-11-09-23:00"': 0,
    "dagster sensor start -m monitoring_pipelines.definitions drift_threshold_sensor": 0,
    "dagster sensor start -m monitoring_pipelines.definitions monitoring_run_failure_sensor": 0,
    "monitoring-pipelines status": 0,
    "monitoring-pipelines status --deployment credit_risk --json": 0,
    "monitoring-pipelines status --fail-on-drift": 1,
    "monitoring-pipelines alerts --json --limit 5": 0,
    "monitoring-pipelines backfill --deployment credit_risk --start 2026-11-09T20:00 "
    "--end 2026-11-10T00:00": 0,
    "monitoring-pipelines report --deployment credit_risk --start 2026-11-09T00:00 "
    "--end 2026-11-10T00:00": 0,
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


@pytest.fixture(scope="module")
def demo_copy(demo_run, tmp_path_factory) -> DemoRun:
    """A copy of the session's demo, so the commands' runs stay out of the shared one."""
    home = tmp_path_factory.mktemp("readme") / "home"
    shutil.copytree(demo_run.home, home)
    return DemoRun(demo_run.result, demo_run.output, home)


def _run(command: str, env: dict[str, str]) -> tuple[int, str]:
    argv = shlex.split(command)
    if argv[0] == "monitoring-pipelines":
        out = StringIO()
        with redirect_stdout(out):
            return cli.main(argv[1:]), out.getvalue()
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), *argv[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stdout + done.stderr


def test_the_readme_commands_work_as_written(demo_copy, monkeypatch):
    demo_copy.env(monkeypatch)
    env = {**os.environ, "DAGSTER_HOME": str(demo_copy.home)}
    outputs = {}
    for command, expected in sorted(RUN.items(), key=lambda c: not c[0].startswith("dagster")):
        code, outputs[command] = _run(command, env)
        assert code == expected, f"{command}\n{outputs[command][-3000:]}"
    status = json.loads(outputs["monitoring-pipelines status --deployment credit_risk --json"])
    instigators = status["instigators"]
    assert instigators["drift_threshold_sensor"] == "running"
    assert instigators["monitoring_run_failure_sensor"] == "running"
    (deployment,) = status["deployments"]
    assert set(deployment["drifted_columns"]) == DEMO_DRIFTED
    report = outputs["monitoring-pipelines report --deployment credit_risk --start "
                     "2026-11-09T00:00 --end 2026-11-10T00:00"]  # fmt: skip
    assert Path(report.splitlines()[0]).is_file() and "status: drift" in report
