"""Production wiring on the real PostgreSQL server: deploy/dagster.postgres.yaml (dagster-postgres
with the psycopg2 scheme, the deployment-tagging run queue) for Dagster's storage and
MONITORING_DATABASE_URL for the tables, exercised by a small in-process demo run end to end."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.defs.demo import DemoSettings, run_demo
from tests.conftest import postgres_database

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_database():
    with postgres_database("mp_prod") as name:
        yield name


def test_demo_on_postgres_storage_and_store(tmp_path, monkeypatch, fresh_database):
    (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    store_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{fresh_database}"
    for name, value in {
        "DAGSTER_HOME": str(tmp_path),
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": fresh_database,
        "MONITORING_DATABASE_URL": store_url,
        "MONITORS_CONFIG": str(REPO / "monitors.yaml"),
    }.items():
        monkeypatch.setenv(name, value)
    settings = DemoSettings(
        hours=4,
        drift_from_hour=2,
        rows_per_hour=1200,
        reference_rows=4000,
        end=datetime(2026, 11, 12, tzinfo=UTC),
        retrain=False,
    )
    result = run_demo(settings, io.StringIO())
    # the drifted columns, and the reconstruction error their drift moves (not a column)
    assert set(result.onset) - {"__multivariate__"} == {
        "annual_income",
        "loan_purpose",
        "years_employed",
    }

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "DeploymentRunCoordinator"
        materialized = instance.get_materialized_partitions(dg.AssetKey("hourly_aggregates"))
    assert len(materialized) == 4
    engine = create_engine(store_url)
    with engine.connect() as conn:
        windows = conn.execute(
            text(
                "SELECT count(DISTINCT timestamp) FROM aggregates_credit_risk WHERE NOT is_baseline"
            )
        ).scalar_one()
        alerts = conn.execute(text("SELECT count(*) FROM alerts WHERE kind = 'drift'")).scalar_one()
    engine.dispose()
    assert windows == 4
    assert alerts > 0
