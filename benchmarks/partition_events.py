"""What per-partition events cost a single-run backfill: metadata and check results per hour.

Two assets over the project's partitions (hour × deployment), four partitioned checks
each, like ``hourly_aggregates``: one does no work and yields only its
``MaterializeResult`` (Dagster still writes one materialization per partition), the other
also reports every hour's metadata and check results through ``report_partitions``. Each
is run as one ``execute_in_process`` run over the same range on a fresh instance, SQLite
(Dagster's default) and PostgreSQL (dagster-postgres, as in production); the difference
divided by the hours is what the events cost per partition. The cost is Dagster's storage:
each check evaluation is its own event-log write and asset-check index update (Dagster 1.13
batches only materialization-like events, and its SQL storages write a batch one by one);
the metadata is added for all hours at once (``add_partitions_metadata``: Dagster's own
``add_asset_metadata(partition_key=...)`` lists the run's partitions on every call).

Usage: ``.venv/bin/python -m benchmarks.partition_events [--hours 168 720] [--storage
sqlite postgres]``; PostgreSQL at ``$TEST_POSTGRES_URL`` (default the local test server).
"""

import argparse
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import yaml
from sqlalchemy import create_engine, make_url, text

from benchmarks.dagster_home import temporary_dagster_home
from monitoring_pipelines.defs.partitions import HOUR_FORMAT, hour_key
from monitoring_pipelines.defs.per_partition import (
    PartitionCheck,
    PartitionReport,
    partitioned_check_spec,
    report_partitions,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
DEPLOYMENT = "bench_events"
ASSET = "events_asset"
CHECKS = ("schema", "missing", "range", "categories")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _partitions() -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            "hour": dg.HourlyPartitionsDefinition(
                start_date=START.strftime(HOUR_FORMAT), timezone="UTC", fmt=HOUR_FORMAT
            ),
            "deployment": dg.StaticPartitionsDefinition([DEPLOYMENT, "other"]),
        }
    )


def _report(key: str, index: int) -> PartitionReport:
    """Metadata and check outcomes the size of ``hourly_aggregates``'s."""
    metadata = {
        "rows": dg.MetadataValue.int(10_000 + index),
        "missing_total": dg.MetadataValue.int(index),
        "missing_share": dg.MetadataValue.float(index / 1e6),
        "window_start": dg.MetadataValue.text(key),
    }
    checks = tuple(
        PartitionCheck(
            name,
            passed=index % 7 != 0,
            metadata={
                "failing_columns": dg.MetadataValue.json([]),
                "failures": dg.MetadataValue.md("no failures"),
            },
        )
        for name in CHECKS
    )
    return PartitionReport(key, metadata, checks)


def _asset(with_events: bool) -> dg.AssetsDefinition:
    partitions_def = _partitions()

    @dg.multi_asset(
        name=ASSET,
        specs=[dg.AssetSpec(ASSET)],
        check_specs=[partitioned_check_spec(c, ASSET, partitions_def, c) for c in CHECKS],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
    )
    def events_asset(context: dg.AssetExecutionContext):
        if not with_events:
            yield dg.MaterializeResult(asset_key=ASSET)
            return
        keys = context.partition_keys
        yield from report_partitions(
            context, ASSET, (_report(key, i) for i, key in enumerate(keys))
        )

    return events_asset


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database's URL for dagster-postgres (psycopg2), dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg2", database=name)
    try:
        yield url.render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def postgres_instance() -> Iterator[dg.DagsterInstance]:
    """A Dagster instance on a fresh PostgreSQL database, dropped afterwards."""
    with (
        fresh_database("bench_events") as url,
        tempfile.TemporaryDirectory(prefix="bench-events-") as folder,
    ):
        config = {"storage": {"postgres": {"postgres_url": url}}}
        (Path(folder) / "dagster.yaml").write_text(yaml.safe_dump(config))
        with dg.DagsterInstance.from_config(folder) as instance:
            yield instance


@contextmanager
def instance_on(storage: str) -> Iterator[dg.DagsterInstance]:
    """A fresh instance on ``sqlite`` or ``postgres``."""
    if storage == "postgres":
        with postgres_instance() as instance:
            yield instance
    else:
        with temporary_dagster_home() as home:
            yield home.instance


def run_seconds(hours: int, with_events: bool, storage: str = "sqlite") -> float:
    """Wall seconds of one single run over ``hours`` hours of one deployment."""
    job = dg.define_asset_job("events_job", selection=[ASSET])
    defs = dg.Definitions(assets=[_asset(with_events)], jobs=[job])
    last = START + timedelta(hours=hours - 1)
    tags = {
        "dagster/asset_partition_range_start": str(hour_key(DEPLOYMENT, START)),
        "dagster/asset_partition_range_end": str(hour_key(DEPLOYMENT, last)),
    }
    with instance_on(storage) as instance:
        began = time.perf_counter()
        result = defs.resolve_job_def("events_job").execute_in_process(
            instance=instance, run_config=QUIET, tags=tags
        )
        seconds = time.perf_counter() - began
        assert result.success
        records = instance.fetch_materializations(dg.AssetKey(ASSET), limit=hours + 1)
        assert len(records.records) == hours, len(records.records)
    return seconds


def machine() -> str:
    """The facts a reader needs to compare figures across machines."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load}; "
        f"Python {platform.python_version()}, dagster {version('dagster')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, nargs="+", default=[168, 720])
    parser.add_argument("--storage", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    print(machine())
    for storage, hours in ((s, h) for s in args.storage for h in args.hours):
        bare = run_seconds(hours, False, storage)
        full = run_seconds(hours, True, storage)
        per = (full - bare) / hours * 1000
        print(
            f"{storage}, {hours} hours: without events {bare:.1f} s, with per-partition "
            f"metadata and {len(CHECKS)} checks {full:.1f} s ({full / bare:.1f}×): "
            f"{per:.1f} ms per partition"
        )


if __name__ == "__main__":
    main()
