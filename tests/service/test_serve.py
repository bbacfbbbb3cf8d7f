"""``monitoring-pipelines serve`` refuses what cannot work before starting anything, naming the
file and the fix, and stops its children (SIGTERM, then SIGKILL) when one of them exits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitoring_pipelines import service
from monitoring_pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_serve_needs_dagster_home(monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["serve"]) == 2
    assert "DAGSTER_HOME is not set" in capsys.readouterr().err


def test_serve_needs_a_dagster_yaml(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "dagster.yaml") in err
    assert "deploy/dagster.postgres.yaml" in err


def test_serve_refuses_sqlite_storage(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    assert main(["serve"]) == 2
    assert "does not configure PostgreSQL storage" in capsys.readouterr().err


def test_serve_refuses_broken_yaml(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("storage: [postgres\n")
    assert main(["serve"]) == 2
    assert "is not valid YAML" in capsys.readouterr().err


def test_the_production_yaml_passes_the_check(tmp_path):
    (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    assert service.instance_yaml(str(tmp_path)) == tmp_path / "dagster.yaml"


def test_when_one_child_exits_serve_stops_the_other_and_reports_its_code(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from: []\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    monkeypatch.setattr(service, "commands", lambda _: [sleeper, failing])
    started = time.monotonic()
    assert service.serve(workspace) == 3
    assert time.monotonic() - started < 15
    out = capsys.readouterr().out
    assert "exited with 3; stopped the service" in out


@pytest.mark.parametrize(("preset", "seen"), [(None, "1000"), ("50", "50")])
def test_the_children_write_dagster_events_in_batches_unless_told_otherwise(
    tmp_path, monkeypatch, preset, seen
):
    (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from: []\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    if preset is None:
        monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    else:
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", preset)
    seen_file = tmp_path / "seen"
    child = [
        sys.executable,
        "-c",
        "import os, pathlib, sys; pathlib.Path(sys.argv[1]).write_text("
        "os.environ['DAGSTER_EVENT_BATCH_SIZE']); raise SystemExit(3)",
        str(seen_file),
    ]
    monkeypatch.setattr(service, "commands", lambda _: [child])
    assert service.serve(workspace) == 3
    assert seen_file.read_text() == seen


def test_stop_kills_a_child_that_ignores_sigterm(monkeypatch):
    monkeypatch.setattr(service, "STOP_GRACE_SECONDS", 1.0)
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout.readline().strip() == b"ready"
    service.stop([stubborn])
    assert stubborn.returncode == -9


@pytest.mark.parametrize("name", ["dagster-daemon", "dagster-webserver"])
def test_the_service_commands_come_from_this_environment(name):
    commands = service.commands(Path("workspace.yaml"))
    assert any(Path(c[0]).name == name and Path(c[0]).exists() for c in commands)
