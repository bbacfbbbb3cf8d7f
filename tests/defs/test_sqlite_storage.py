"""The development instance's event log (dagster.yaml: Dagster's SQLite storage writing a batch
of asset events in one transaction per file): a range run leaves every hour its own
materialization, metadata and check result, the same rows Dagster's own SQLite storage writes
one event at a time, in a fraction of the commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import (
    AssetEventTagsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)

from monitoring_pipelines.defs.per_partition import (
    PartitionCheck,
    PartitionReport,
    partitioned_check_spec,
    report_partitions,
)
from monitoring_pipelines.defs.sqlite_storage import BatchedSqliteEventLogStorage
from monitoring_pipelines.service import EVENT_BATCH_SIZE

REPO = Path(__file__).resolve().parents[2]
HOURS = 30
HOUR_KEYS = dg.HourlyPartitionsDefinition(start_date="2026-11-02-00:00").get_partition_keys()
PARTITIONS = dg.MultiPartitionsDefinition(
    {
        "hour": dg.HourlyPartitionsDefinition(start_date="2026-11-02-00:00"),
        "deployment": dg.StaticPartitionsDefinition(["a", "b"]),
    }
)
KEYS = [str(dg.MultiPartitionKey({"hour": h, "deployment": "a"})) for h in HOUR_KEYS[:HOURS]]
ASSET = dg.AssetKey("hours")


@dg.multi_asset(
    specs=[dg.AssetSpec("hours")],
    check_specs=[partitioned_check_spec("even_hour", "hours", PARTITIONS, "passes on even hours")],
    partitions_def=PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def hours(context):
    """Each hour's metadata and check carry that hour's own number."""
    reports = []
    for key in context.partition_keys:
        number = KEYS.index(key)
        reports.append(
            PartitionReport(
                key,
                {"hour_number": dg.MetadataValue.int(number)},
                (PartitionCheck("even_hour", number % 2 == 0),),
            )
        )
    yield from report_partitions(context, "hours", reports)


@contextmanager
def _instance(home: Path, storage: dict | None = None) -> Iterator[dg.DagsterInstance]:
    """An instance on the repository's dagster.yaml in ``home``, its storage replaced if given."""
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text())
    if storage is not None:
        settings["storage"] = storage
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@contextmanager
def _counting_commits() -> Iterator[list[int]]:
    """Commits on any SQLAlchemy engine while open (Dagster makes a new engine per write)."""
    commits = [0]

    def count(_connection) -> None:
        commits[0] += 1

    sa.event.listen(sa.engine.Engine, "commit", count)
    try:
        yield commits
    finally:
        sa.event.remove(sa.engine.Engine, "commit", count)


def _range_run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [hours],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": KEYS[0],
            "dagster/asset_partition_range_end": KEYS[-1],
        },
        raise_on_error=True,
    )
    assert result.success
    return result


def _index_rows(storage: SqliteEventLogStorage) -> dict[str, list[tuple]]:
    """The index file's event, tag and asset rows, in id order, without what differs between
    two runs (run ids, times, data versions: Dagster derives those from the run)."""
    with storage.index_connection() as conn:
        events = conn.execute(
            sa.select(
                SqlEventLogStorageTable.c.id,
                SqlEventLogStorageTable.c.dagster_event_type,
                SqlEventLogStorageTable.c.asset_key,
                SqlEventLogStorageTable.c.partition,
                SqlEventLogStorageTable.c.step_key,
            ).order_by(SqlEventLogStorageTable.c.id)
        ).all()
        tags = [
            (*row[:3], None if row.key == DATA_VERSION_TAG else row.value)
            for row in conn.execute(
                sa.select(
                    AssetEventTagsTable.c.event_id,
                    AssetEventTagsTable.c.asset_key,
                    AssetEventTagsTable.c.key,
                    AssetEventTagsTable.c.value,
                ).order_by(AssetEventTagsTable.c.id)
            )
        ]
        assets = conn.execute(sa.select(AssetKeyTable.c.asset_key)).all()
    return {"events": events, "tags": tags, "assets": assets}


def _run_events(instance: dg.DagsterInstance, run_id: str) -> list[tuple]:
    """The run's own log as the UI's run view lists it: event type and partition, in order."""
    return [
        (r.event_log_entry.dagster_event_type, r.event_log_entry.dagster_event.partition)
        for r in instance.get_records_for_run(run_id, limit=10_000).records
        if r.event_log_entry.dagster_event is not None
    ]


@pytest.fixture
def batching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's event batching on, as `make demo`, `make dev` and the service set it."""
    monkeypatch.setenv(*EVENT_BATCH_SIZE)


def test_a_range_run_leaves_every_hour_its_own_materialization(tmp_path, monkeypatch, batching):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dev"))
    with _instance(tmp_path / "dev") as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        with _counting_commits() as commits:
            result = _range_run(instance)
        batched_commits = commits[0]

        # every hour: one materialization of its own, with its own metadata and run
        for number, key in enumerate(KEYS):
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=ASSET, asset_partitions=[key]), limit=10
            ).records
            assert [r.partition_key for r in records] == [key]
            assert records[0].asset_materialization.metadata["hour_number"].value == number
            assert records[0].run_id == result.run_id
        assert instance.get_materialized_partitions(ASSET) == set(KEYS)
        # each check result points at its own hour's materialization, as the UI links them
        storage_ids = instance.event_log_storage.get_latest_storage_id_by_partition(
            ASSET, dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == HOURS
        for evaluation in evaluations:
            target = evaluation.target_materialization_data
            assert target is not None
            assert target.storage_id == storage_ids[evaluation.partition]
        # the asset's latest materialization is the last one written (Dagster's order)
        latest = instance.get_latest_materialization_event(ASSET)
        assert latest is not None
        assert latest.dagster_event.partition == max(storage_ids, key=storage_ids.__getitem__)
        dev_rows = _index_rows(instance.event_log_storage)
        dev_events = _run_events(instance, result.run_id)

    # Dagster's own SQLite storage, the same run: the same rows, and far more commits
    stock_home = tmp_path / "stock"
    with _instance(stock_home, {"sqlite": {"base_dir": str(stock_home)}}) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        with _counting_commits() as commits:
            result = _range_run(instance)
        assert _index_rows(instance.event_log_storage) == dev_rows
        assert _run_events(instance, result.run_id) == dev_events
    # 2 × HOURS asset events (planned, materialized) at two commits each, against two
    # commits for each of the two batches
    assert commits[0] - batched_commits == 2 * 2 * HOURS - 2 * 2


def _one_by_one_and_batched(tmp_path: Path) -> tuple[SqliteEventLogStorage, ...]:
    """A stock run's asset events replayed into two fresh event logs: Dagster's, one event at a
    time, and the batched one, as one batch of planned and materialization events mixed."""
    stock_home = tmp_path / "stock"
    with _instance(stock_home, {"sqlite": {"base_dir": str(stock_home)}}) as instance:
        run_id = _range_run(instance).run_id
        events = [
            r.event_log_entry
            for r in instance.get_records_for_run(run_id, limit=10_000).records
            if r.event_log_entry.dagster_event_type
            in (
                dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                dg.DagsterEventType.ASSET_MATERIALIZATION,
            )
        ]
    assert len(events) == 2 * HOURS
    one_by_one = SqliteEventLogStorage(str(tmp_path / "one_by_one"))
    for event in events:
        one_by_one.store_event(event)
    batched = BatchedSqliteEventLogStorage(str(tmp_path / "batched"))
    batched.store_event_batch(events)
    return one_by_one, batched


def _written(conn: sa.Connection, table: sa.Table) -> list[tuple]:
    """All of ``table``'s rows but the time SQLite stamps on creation, in id order."""
    columns = [c for c in table.c if c.name != "create_timestamp"]
    return conn.execute(sa.select(*columns).order_by(table.c.id)).all()


def test_a_mixed_batch_writes_the_rows_of_one_event_at_a_time(tmp_path, batching):
    one_by_one, batched = _one_by_one_and_batched(tmp_path)
    tables = (SqlEventLogStorageTable, AssetEventTagsTable, AssetKeyTable)
    with one_by_one.index_connection() as a, batched.index_connection() as b:
        # the asset's row too: latest materialization (the last one), run, times
        for table in tables:
            assert _written(b, table) == _written(a, table), table.name
        (run_id,) = {row.run_id for row in _written(a, SqlEventLogStorageTable)}
    with one_by_one.run_connection(run_id) as a, batched.run_connection(run_id) as b:
        assert _written(b, SqlEventLogStorageTable) == _written(a, SqlEventLogStorageTable)
