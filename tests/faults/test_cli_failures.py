"""A failure through Dagster's own command line names its cause first, without our traceback
(issue 14, item 13).

The failing behaviour: ``dagster job execute`` of ``baseline_job`` with the reference file
removed printed, in its STEP_FAILURE and again in its RUN_FAILURE line, Dagster's wrapper
``Error occurred while executing op "baseline_statistics"``, the stack of our asset, then
``The above exception was caused by …`` with the stack of our pipeline and source code down to
the ``FileNotFoundError``. Now the asset raises our error as a ``dagster.Failure`` (``Type:
message``, from None): Dagster prints that line. What it still prints is its own
``Stack Trace:`` of the Failure: Dagster's frames plus the one frame that raised it
(``defs/failures.py``); Dagster has no option to leave that out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
DAGSTER = Path(sys.executable).parent / "dagster"


def _frames(output: str) -> list[str]:
    """The files of the stack frames printed (``File "…", line N, in …``)."""
    return re.findall(r'^\s*File "([^"]+)", line \d+', output, flags=re.M)


def test_dagster_job_execute_with_a_missing_reference_names_the_path_without_our_trace(
    tiny_deployment, tmp_path
):
    reference = tiny_deployment.config.deployments[0].reference.path
    reference.unlink()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "MONITORING_"))},
        "DAGSTER_HOME": str(home),
        "MONITORS_CONFIG": str(tiny_deployment.config_path),
        "MONITORING_DATABASE_URL": tiny_deployment.database_url,
    }
    command = [
        str(DAGSTER),
        *("job", "execute", "-m", "monitoring_pipelines.definitions", "-j", "baseline_job"),
        *("--tags", json.dumps({"dagster/partition": "tiny_model"})),
    ]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    clear = f"FileNotFoundError: reference data '{reference}' does not exist"
    # each failure Dagster prints (the run's always; the step's too when the step process's
    # output reaches the terminal before it exits) opens with our message, naming the path
    blocks = re.split(r"^.* - (?:STEP|RUN)_FAILURE - .*$", output, flags=re.M)[1:]
    assert " - RUN_FAILURE - " in output and blocks, output[-3000:]
    for block in blocks:
        first = next(line for line in block.splitlines() if line.strip())
        assert first == f"dagster._core.definitions.events.Failure: {clear}"
    assert "Error occurred while executing op" not in output
    assert "The above exception was caused by" not in output
    ours = [f for f in _frames(output) if "/monitoring_pipelines/" in f]
    # no frame of our assets, pipeline, sources or store code: only the raise of the Failure
    assert ours and {Path(f).relative_to(REPO).as_posix() for f in ours} == {
        "monitoring_pipelines/defs/failures.py"
    }
    assert len(ours) == len(blocks)  # one frame per printed failure


def test_monitoring_debug_keeps_the_cause_and_its_trace(tiny_deployment, dagster_instance):
    """``MONITORING_DEBUG=1``: the Failure is raised from our error, so Dagster shows the
    cause with its stack again (what ``--debug`` is to our own command line)."""
    from monitoring_pipelines.defs.build import build_definitions
    from monitoring_pipelines.defs.jobs import BASELINE_JOB

    tiny_deployment.config.deployments[0].reference.path.unlink()
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    job = defs.resolve_job_def(BASELINE_JOB)
    quiet = job.execute_in_process(
        partition_key="tiny_model", instance=dagster_instance, raise_on_error=False
    )
    error = quiet.failure_data_for_node("baseline_statistics").error
    assert error.cls_name == "Failure" and error.cause is None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MONITORING_DEBUG", "1")
        loud = job.execute_in_process(
            partition_key="tiny_model", instance=dagster_instance, raise_on_error=False
        )
    error = loud.failure_data_for_node("baseline_statistics").error
    assert error.cls_name == "Failure" and error.cause.cls_name == "FileNotFoundError"
    assert any("sources/base.py" in line for line in error.cause.stack)
