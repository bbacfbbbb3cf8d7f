"""A throwaway Dagster home for the benchmarks that go through Dagster (parts 5 and 6).

A real SQLite-backed instance (runs, event log, schedules) in a temporary folder, with
the monitoring store as a SQLite file next to it, and a ``dagster.yaml`` so the ``dagster``
CLI started with the same ``DAGSTER_HOME`` opens the same instance; the environment
variables that point there are restored on exit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from monitoring_pipelines.store.engine import DATABASE_URL_ENV

INSTANCE_YAML = "telemetry:\n  enabled: false\n"


@dataclass(frozen=True)
class DagsterHome:
    """The instance and the store URL of one temporary Dagster home."""

    path: Path
    instance: dg.DagsterInstance
    store_url: str


@contextmanager
def temporary_dagster_home() -> Iterator[DagsterHome]:
    """A fresh home with ``DAGSTER_HOME`` and ``MONITORING_DATABASE_URL`` set while open."""
    names = ("DAGSTER_HOME", DATABASE_URL_ENV)
    saved = {name: os.environ.get(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-dagster-") as folder:
        url = f"sqlite:///{Path(folder) / 'monitoring.db'}"
        (Path(folder) / "dagster.yaml").write_text(INSTANCE_YAML)
        os.environ["DAGSTER_HOME"] = folder
        os.environ[DATABASE_URL_ENV] = url
        try:
            with dg.DagsterInstance.local_temp(tempdir=folder) as instance:
                yield DagsterHome(Path(folder), instance, url)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
