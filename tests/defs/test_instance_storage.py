"""The production instance's event log (deploy/dagster.postgres.yaml: dagster-postgres with the
event log's connections pooled and batches of asset events written at once) on the real
PostgreSQL server: a range run's check results each belong to their own hour, storing them
reuses connections instead of opening three per result as stock dagster-postgres does, and a
run's planned events leave the rows stock dagster-postgres writes one by one."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetEventTagsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster_postgres import PostgresEventLogStorage

from monitoring_pipelines.defs.instance_storage import PooledPostgresEventLogStorage
from monitoring_pipelines.defs.per_partition import (
    PartitionCheck,
    PartitionReport,
    partitioned_check_spec,
    report_partitions,
)
from monitoring_pipelines.service import EVENT_BATCH_SIZE
from tests.conftest import POSTGRES_ADMIN_URL, postgres_database

REPO = Path(__file__).resolve().parents[2]
HOURS = 12
PARTITIONS = dg.HourlyPartitionsDefinition(start_date="2026-11-02-00:00")
KEYS = PARTITIONS.get_partition_keys()[:HOURS]


@dg.multi_asset(
    specs=[dg.AssetSpec("hours")],
    check_specs=[
        partitioned_check_spec("even_hour", "hours", PARTITIONS, "passes on even hours"),
        partitioned_check_spec("hour_number", "hours", PARTITIONS, "always passes"),
    ],
    partitions_def=PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def hours(context):
    """Each hour's checks carry that hour's own verdict and number."""
    reports = []
    for key in context.partition_keys:
        number = KEYS.index(key)
        reports.append(
            PartitionReport(
                key,
                {"hour_number": dg.MetadataValue.int(number)},
                (
                    PartitionCheck("even_hour", number % 2 == 0),
                    PartitionCheck("hour_number", True, {"hour": dg.MetadataValue.int(number)}),
                ),
            )
        )
    yield from report_partitions(context, "hours", reports)


@pytest.fixture
def production_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A DAGSTER_HOME with deploy/dagster.postgres.yaml on a fresh database, and its settings."""
    with postgres_database("mp_pool") as name:
        settings = yaml.safe_load((REPO / "deploy" / "dagster.postgres.yaml").read_text())
        for variable, value in {
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_DB": name,
        }.items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv(*EVENT_BATCH_SIZE)  # batches on, as the service runs
        yield tmp_path, settings


def _instance(home: Path, settings: dict) -> dg.DagsterInstance:
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    return dg.DagsterInstance.from_config(str(home))


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


def _counting_connections(storage) -> list[int]:
    """New DBAPI connections the event log opens from now on (SQLAlchemy's connect event)."""
    opened = [0]
    sa.event.listen(storage._engine, "connect", lambda *_: opened.__setitem__(0, opened[0] + 1))
    return opened


def _status_by_partition(instance: dg.DagsterInstance, check: str) -> dict[str, str]:
    key = dg.AssetCheckKey(dg.AssetKey("hours"), check)
    state = instance.event_log_storage.get_asset_check_state([(key, PARTITIONS)])[key]
    return {
        partition: status.value
        for status, subset in state.subsets.items()
        if not subset.is_empty
        for partition in subset.subset_value.get_partition_keys()
    }


def test_the_production_instance_pools_the_event_log(production_home):
    home, settings = production_home
    with _instance(home, settings) as instance:
        assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        opened = _counting_connections(instance.event_log_storage)
        result = _range_run(instance)

        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == 2 * HOURS
        # each result is its own hour's: the verdict and the number it carries
        for evaluation in evaluations:
            number = KEYS.index(evaluation.partition)
            if evaluation.check_name == "even_hour":
                assert evaluation.passed is (number % 2 == 0)
            else:
                assert evaluation.metadata["hour"].value == number
        # and the UI's per-partition status, read back from storage, says the same
        assert _status_by_partition(instance, "even_hour") == {
            key: "SUCCEEDED" if n % 2 == 0 else "FAILED" for n, key in enumerate(KEYS)
        }
        assert _status_by_partition(instance, "hour_number") == dict.fromkeys(KEYS, "SUCCEEDED")
        records = instance.fetch_materializations(dg.AssetKey("hours"), limit=100).records
        assert {
            r.partition_key: r.asset_materialization.metadata["hour_number"].value for r in records
        } == {key: n for n, key in enumerate(KEYS)}
        # 24 check results stored over a handful of reused connections
        assert 1 <= opened[0] <= 5


def test_stock_dagster_postgres_connects_per_statement(production_home):
    """The comparison that makes the bound above mean something: the same run on
    dagster-postgres' own storage (`storage: postgres:`) opens connections by the dozen."""
    home, settings = production_home
    stock = {**settings, "storage": {"postgres": settings["storage"]["custom"]["config"]}}
    with _instance(home, stock) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        opened = _counting_connections(instance.event_log_storage)
        _range_run(instance)
        assert opened[0] >= 3 * 2 * HOURS


def test_a_forked_child_opens_its_own_connections(production_home):
    home, settings = production_home
    with _instance(home, settings) as instance:
        _range_run(instance)
        storage = instance.event_log_storage
        assert storage._engine.pool.checkedin() == 1  # the pool now holds a connection
        pid = os.fork()
        if pid == 0:  # the child: it must not reuse the parent's socket, and opens its own
            try:
                inherited = storage._engine.pool.checkedin()
                run_id = instance.get_runs()[0].run_id
                ok = inherited == 0 and len(instance.get_records_for_run(run_id).records) > 0
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's pooled connection still works after the child used and left
        assert len(instance.get_runs()) == 1
        assert _status_by_partition(instance, "hour_number") == dict.fromkeys(KEYS, "SUCCEEDED")


PLANNED = (
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
)
# columns the server fills with its own clock when a row is written
SERVER_TIMES = {"create_timestamp"}


def _written(conn: sa.Connection, table: sa.Table) -> list[tuple]:
    columns = [c for c in table.c if c.name not in SERVER_TIMES]
    return conn.execute(sa.select(*columns).order_by(table.c.id)).all()


def _event_inserts(storage) -> list[int]:
    """INSERTs into ``event_logs`` the event log sends from now on (before_cursor_execute)."""
    sent = [0]

    def count(_conn, _cursor, statement: str, *_) -> None:
        sent[0] += statement.lstrip().upper().startswith("INSERT INTO EVENT_LOGS")

    sa.event.listen(storage._engine, "before_cursor_execute", count)
    return sent


def test_a_runs_planned_events_leave_the_rows_stock_storage_writes_one_by_one(production_home):
    home, settings = production_home
    with _instance(home, settings) as instance:
        run_id = _range_run(instance).run_id
        records = instance.get_records_for_run(run_id, limit=10_000).records
        events = [r.event_log_entry for r in records]
    planned = [e for e in events if e.dagster_event_type in PLANNED]
    materialized = [
        e for e in events if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    ]
    # the run's start: a planned materialization per hour, then each check's planned evaluation
    assert [e.dagster_event_type for e in planned] == [PLANNED[0]] * HOURS + [PLANNED[1]] * 2
    with postgres_database("mp_stock") as stock_db, postgres_database("mp_batch") as batch_db:
        server = sa.make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg2")
        stock = PostgresEventLogStorage(server.set(database=stock_db).render_as_string(False))
        batched = PooledPostgresEventLogStorage(
            server.set(database=batch_db).render_as_string(False)
        )
        try:
            for event in planned + materialized:
                stock.store_event(event)
            inserts = _event_inserts(batched)
            batched.store_event_batch(planned)  # mixed kinds, as the run's start hands them
            planned_inserts = inserts[0]
            batched.store_event_batch(materialized)
            tables = (
                SqlEventLogStorageTable,
                AssetEventTagsTable,
                AssetKeyTable,
                AssetCheckExecutionsTable,
            )
            with stock.index_connection() as a, batched.index_connection() as b:
                for table in tables:
                    assert _written(b, table) == _written(a, table), table.name
            asset = dg.AssetKey("hours")
            assert batched.get_latest_planned_materialization_info(
                asset
            ) == stock.get_latest_planned_materialization_info(asset)
            for key in KEYS:  # each hour's planned run, as the UI asks per partition
                info = batched.get_latest_planned_materialization_info(asset, partition=key)
                assert info == stock.get_latest_planned_materialization_info(asset, partition=key)
                assert info.run_id == run_id
        finally:
            stock.dispose()
            batched.dispose()
    # one INSERT for the hours' planned materializations, one per check's planned evaluation
    # (stock dagster-postgres: one per event, HOURS + 2)
    assert planned_inserts == 1 + 2
