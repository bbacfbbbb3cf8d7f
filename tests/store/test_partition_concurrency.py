"""Two writers of one partition at once, interleaved for real (two threads, two connections,
the first paused between its DELETE and its INSERT), and a writer process killed there, for
every partitioned table on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.windows import windows_since
from tests.store.partition_writers import (
    TABLES,
    WAIT,
    Writer,
    expected,
    paused_before,
    stored,
    write,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url) -> str:
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def deployment_id() -> str:
    return f"p_{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("table", TABLES)
def test_two_concurrent_rewrites_leave_one_complete_set(url, table):
    engine = get_engine(url)
    deployment = deployment_id()
    write(engine, table, deployment, "old")
    a_deleted, resume_a = threading.Event(), threading.Event()
    a = Writer("writer_a", lambda: write(engine, table, deployment, "a"))
    b = Writer("writer_b", lambda: write(engine, table, deployment, "b"))
    insert = f"INSERT INTO {table} "
    with paused_before(engine, insert, a.name, a_deleted.set, lambda: resume_a.wait(WAIT)):
        a.start()
        assert a_deleted.wait(WAIT)  # a has deleted the old rows, not yet inserted its own
        b.start()
        assert not b.done.wait(1.0), "b wrote while a held the partition"
        assert stored(engine, table, deployment) == expected("old")  # a's delete is invisible
        resume_a.set()
        a.join(WAIT)
        b.join(WAIT)
    assert (a.error, b.error) == (None, None)
    assert stored(engine, table, deployment) == expected("b")  # the last commit, alone
    if table != "aggregates":  # the window was recorded once, bumped by each write
        [window] = [
            w
            for w in windows_since(engine, table, "hour", 0, 1_000_000)
            if w.deployment_id == deployment
        ]
        assert (window.version, window.row_count) == (3, 2)


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLES)
def test_writer_killed_between_delete_and_insert_leaves_the_previous_rows(url, table):
    engine = get_engine(url)
    deployment = deployment_id()
    write(engine, table, deployment, "old")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tests.store.partition_writers import die_mid_write; "
            "die_mid_write(*sys.argv[1:])",
            url,
            table,
            deployment,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "deleted", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(WAIT) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    assert stored(engine, table, deployment) == expected("old")
    write(engine, table, deployment, "b")  # the dead writer's lock went with it
    assert stored(engine, table, deployment) == expected("b")
