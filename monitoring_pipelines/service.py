"""``monitoring-pipelines serve``: the Dagster webserver and daemon against PostgreSQL.

Checks what would otherwise fail late (``$DAGSTER_HOME/dagster.yaml`` with PostgreSQL
storage, the monitoring store reachable and migrated), then runs ``dagster-daemon`` and
``dagster-webserver`` as children with default signal handling and stops both when it is
told to (SIGTERM or SIGINT) or when either one exits. Host and port come from Dagster's own
``DAGSTER_WEBSERVER_HOST`` / ``DAGSTER_WEBSERVER_PORT``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

STOP_GRACE_SECONDS = 20.0
# Dagster's opt-in event batching: a step's materializations (one per hour of a range run)
# are written in batches, one INSERT per batch on PostgreSQL, instead of two transactions
# per event. Asset-check evaluations are never batched by Dagster 1.13.
EVENT_BATCH_SIZE = ("DAGSTER_EVENT_BATCH_SIZE", "1000")


def child_environment() -> dict[str, str]:
    """This process's environment with Dagster's event batching on (unless set already)."""
    name, value = EVENT_BATCH_SIZE
    return {name: value} | dict(os.environ)


class ServiceError(ValueError):
    """The service cannot start; the message says what to fix (the CLI exits 2)."""


def instance_yaml(home: str | None) -> Path:
    """``$DAGSTER_HOME/dagster.yaml``, checked to configure PostgreSQL storage."""
    if not home:
        raise ServiceError("DAGSTER_HOME is not set: point it at the folder of dagster.yaml")
    path = Path(home) / "dagster.yaml"
    if not path.is_file():
        raise ServiceError(f"{path} does not exist: copy deploy/dagster.postgres.yaml there")
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ServiceError(f"{path} is not valid YAML: {error}") from None
    storage = settings.get("storage") if isinstance(settings, dict) else None
    if not isinstance(storage, dict) or not ("postgres" in storage or _pooled(storage)):
        raise ServiceError(
            f"{path} does not configure PostgreSQL storage (storage: postgres:): the service "
            "runs the webserver and the daemon as separate processes, which SQLite storage "
            "does not support; start from deploy/dagster.postgres.yaml"
        )
    return path


POOLED_STORAGE = ("monitoring_pipelines.defs.instance_storage", "PooledPostgresStorage")


def _pooled(storage: dict) -> bool:
    """``storage: custom:`` naming this package's pooled PostgreSQL storage."""
    custom = storage.get("custom")
    return (
        isinstance(custom, dict) and (custom.get("module"), custom.get("class")) == POOLED_STORAGE
    )


def _command(name: str) -> str:
    """A console script of this environment (beside the interpreter), else from PATH."""
    local = Path(sys.executable).with_name(name)
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise ServiceError(f"{name} is not installed (pip install dagster-webserver)")
    return found


def commands(workspace: Path) -> list[list[str]]:
    """The two processes of the service."""
    return [
        [_command("dagster-daemon"), "run", "-w", str(workspace)],
        [_command("dagster-webserver"), "-w", str(workspace)],
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to every child still running, then SIGKILL to those that outlive the grace."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(workspace: Path) -> int:
    """Run daemon and webserver until a signal or until one of them exits."""
    instance_yaml(os.environ.get("DAGSTER_HOME"))
    if not workspace.is_file():
        raise ServiceError(f"workspace file {workspace} does not exist")
    from monitoring_pipelines.store.engine import get_engine

    get_engine()  # migrates the store once, before two processes race to do it
    stopping = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    processes: list[subprocess.Popen] = []
    exited = None
    try:
        for command in commands(workspace):
            processes.append(subprocess.Popen(command, env=child_environment()))
            print(f"started pid {processes[-1].pid}: {' '.join(command)}", flush=True)
        while not stopping and exited is None:
            time.sleep(0.5)
            exited = next((p for p in processes if p.poll() is not None), None)
    finally:
        stop(processes)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if exited is None:
        return 0
    print(f"pid {exited.pid} exited with {exited.returncode}; stopped the service", flush=True)
    return exited.returncode or 1
