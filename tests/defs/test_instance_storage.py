"""The production instance's event log (deploy/dagster.postgres.yaml: dagster-postgres with the
event log's connections pooled) on the real PostgreSQL server: a range run's check results
each belong to their own hour, and storing them reuses connections instead of opening three
per result as stock dagster-postgres does."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from monitoring_pipelines.defs.instance_storage import PooledPostgresEventLogStorage
from monitoring_pipelines.defs.per_partition import (
    PartitionCheck,
    PartitionReport,
    partitioned_check_spec,
    report_partitions,
)
from tests.conftest import postgres_database

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
