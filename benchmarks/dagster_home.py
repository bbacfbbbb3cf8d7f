"""A throwaway Dagster home for the benchmarks that go through Dagster (parts 5 and 6).

A real SQLite-backed instance (runs, event log, schedules) in a temporary folder, with
the monitoring store as a SQLite file next to it, and a ``dagster.yaml`` so the ``dagster``
CLI started with the same ``DAGSTER_HOME`` opens the same instance. The instance is the
repository's development one (its ``dagster.yaml``: Dagster's SQLite storage writing a batch
of asset events in one transaction per file, with ``DAGSTER_EVENT_BATCH_SIZE`` as ``make
demo`` sets it), or on request Dagster's own SQLite storage, for the comparison; the
environment variables that point there are restored on exit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from monitoring_pipelines.service import EVENT_BATCH_SIZE
from monitoring_pipelines.store.engine import DATABASE_URL_ENV

DEVELOPMENT_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
STOCK_YAML = "telemetry:\n  enabled: false\n"


@dataclass(frozen=True)
class DagsterHome:
    """The instance and the store URL of one temporary Dagster home."""

    path: Path
    instance: dg.DagsterInstance
    store_url: str


@contextmanager
def temporary_dagster_home(stock_storage: bool = False) -> Iterator[DagsterHome]:
    """A fresh home with ``DAGSTER_HOME``, ``MONITORING_DATABASE_URL`` and Dagster's event
    batch size set while open; ``stock_storage``: Dagster's default storage, not dagster.yaml's."""
    batch_size, batch_default = EVENT_BATCH_SIZE
    names = ("DAGSTER_HOME", DATABASE_URL_ENV, batch_size)
    saved = {name: os.environ.get(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-dagster-") as folder:
        url = f"sqlite:///{Path(folder) / 'monitoring.db'}"
        settings = STOCK_YAML if stock_storage else DEVELOPMENT_YAML.read_text()
        (Path(folder) / "dagster.yaml").write_text(settings)
        os.environ["DAGSTER_HOME"] = folder
        os.environ[DATABASE_URL_ENV] = url
        os.environ.setdefault(batch_size, batch_default)
        try:
            with dg.DagsterInstance.local_temp(tempdir=folder) as instance:
                yield DagsterHome(Path(folder), instance, url)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
