"""SqlSink on SQLite and the real PostgreSQL: logged rows read back by SqlLogSource profile to
the aggregates of the rows written directly; batched inserts; an existing table; labels;
a database that is unreachable and then comes back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Double,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    text,
)

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks, profile_frame
from monitoring_pipelines.store.aggregates import profile_rows
from monitoring_pipelines.traffic import MonitoringLogger, SqlSink, monitor, sink_for
from tests.conftest import POSTGRES_ADMIN_URL, postgres_or_skip, postgres_schema
from tests.traffic.test_logger import HOUR, KINDS, T0, applicants, assert_same_rows


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def log_url(request, tmp_path):
    """An empty log database: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'logs.db'}"
    else:
        with postgres_schema("mp_sink") as url:
            yield url


def sql_config(tmp_path):
    return parse_config(
        {
            "deployments": [
                {
                    "id": "credit",
                    "reference": {"path": str(tmp_path / "ref.parquet")},
                    "logs": {
                        "type": "sql",
                        "url_env": "LOGS_URL",
                        "table": "scoring_logs",
                        "timestamp_column": "scored_at",
                        "deployment_column": "deployment",
                    },
                    "start": "2026-11-01T00:00:00Z",
                    "columns": [
                        {"name": "rid", "role": "request_id"},
                        {"name": "income", "type": "numerical"},
                        {"name": "age", "type": "numerical"},
                        {"name": "purpose", "type": "categorical"},
                        {"name": "prediction", "type": "categorical", "role": "prediction"},
                    ],
                }
            ]
        }
    )


def count_inserts(sink: SqlSink) -> list[int]:
    """Rows per INSERT statement the sink's engine runs (one entry per statement)."""
    sizes: list[int] = []

    @event.listens_for(sink._connect(), "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            sizes.append(len(parameters) if executemany else 1)

    return sizes


def test_logged_rows_read_by_sql_log_source_profile_like_the_rows_written_directly(
    log_url, tmp_path
):
    config = sql_config(tmp_path)
    rng = np.random.default_rng(5)
    reference = applicants(rng, 2000)
    reference["prediction"] = rng.integers(0, 2, len(reference))
    baseline = fit_baseline(reference, {**KINDS, "prediction": "categorical"}, n_bins=10)

    production = applicants(rng, 700)
    production.loc[::13, "income"] = np.nan
    predictions = rng.integers(0, 2, len(production))
    stamps = [T0 + timedelta(seconds=5 * i) for i in range(len(production))]
    sink = SqlSink(log_url, "scoring_logs", deployment_column="deployment")
    inserts = count_inserts(sink)
    logger = MonitoringLogger("credit", sink, config=config, batch_rows=256, flush_seconds=60)
    for i, (row, prediction, when) in enumerate(
        zip(production.to_dict("records"), predictions, stamps, strict=True)
    ):
        logger.log(row, prediction, timestamp=when, channel="web" if i % 2 else 7)
    assert logger.close() == 0
    assert logger.status().delivered == 700
    other = MonitoringLogger(
        "other",
        SqlSink(log_url, "scoring_logs", deployment_column="deployment"),
        config=config.deployments[0].model_copy(update={"id": "other"}),
    )
    other.log({"income": 1.0}, 1, timestamp=T0)
    assert other.close() == 0
    # batched: one executemany per batch of up to 256 rows, not a statement per row
    assert sum(inserts) == 700 and len(inserts) <= 4 and max(inserts) > 1

    source = SqlLogSource(
        log_url, "scoring_logs", "scored_at", "deployment", "credit", chunk_rows=99
    )
    logged = profile_chunks(source.read_window(T0, T0 + HOUR), baseline)
    production["prediction"] = predictions
    direct = profile_frame(production, baseline)
    assert logged.row_count == direct.row_count == 700
    assert_same_rows(profile_rows(logged), profile_rows(direct))

    engine = create_engine(log_url)
    table = Table("scoring_logs", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.deployment == "credit")).mappings().all()
    engine.dispose()
    assert len({r["rid"] for r in rows}) == 700
    # tags are not declared columns: kept in extras, with their own types
    assert sorted({str(r["extras"]["channel"]) for r in rows}) == ["7", "web"]
    assert isinstance(table.c.income.type, Double) and isinstance(table.c.scored_at.type, DateTime)


def test_an_existing_table_is_used_as_it_is_and_values_it_cannot_hold_go_to_extras(log_url):
    name = f"logs_{uuid.uuid4().hex[:8]}"
    engine = create_engine(log_url)
    table = Table(
        name,
        MetaData(),
        Column("deployment_id", String(48), nullable=False),
        Column("request_id", String(64), nullable=False),
        Column("timestamp", DateTime(timezone=True), nullable=False),
        Column("x", Double),
        Column("prediction", String(8)),
        Column("extras", JSON),
    )
    table.create(engine)
    logger = MonitoringLogger("credit", SqlSink(log_url, name))
    logger.log({"x": 1.5, "y": "new"}, 1, timestamp=T0, request_id="a")
    logger.log({"x": "oops"}, "yes", timestamp=T0, request_id="b")
    assert logger.close() == 0
    with engine.connect() as conn:
        rows = {r["request_id"]: r for r in conn.execute(select(table)).mappings()}
    engine.dispose()
    assert rows["a"]["x"] == 1.5 and rows["a"]["prediction"] == "1"
    assert rows["a"]["extras"] == {"y": "new"}
    assert rows["b"]["x"] is None and rows["b"]["extras"] == {"x": "oops"}
    assert rows["b"]["prediction"] == "yes"

    Table(f"{name}_bare", MetaData(), Column("when", DateTime)).create(create_engine(log_url))
    bad = MonitoringLogger("credit", SqlSink(log_url, f"{name}_bare"), retry_seconds=5)
    bad.log({"x": 1.0}, 1)
    assert not bad.flush(0.5)
    assert f"table '{name}_bare' has no column(s) ['deployment_id', 'request_id'" in (
        bad.status().last_error
    )
    bad.close(timeout=0.1)


def test_labels_go_to_the_labels_table(log_url):
    logger = MonitoringLogger("credit", SqlSink(log_url, "logs", labels_table="labels"))
    rid = logger.log({"x": 1.0}, 1, timestamp=T0)
    logger.log_label(rid, 0, timestamp=T0 + 30 * HOUR)
    assert logger.close() == 0
    engine = create_engine(log_url)
    with engine.connect() as conn:
        labels = conn.execute(text("SELECT deployment_id, request_id, label FROM labels")).all()
    engine.dispose()
    assert [tuple(r) for r in labels] == [("credit", rid, "0")]
    with pytest.raises(ValueError, match="nowhere to write labels"):
        MonitoringLogger("credit", SqlSink(log_url, "logs")).log_label(rid, 1)


def test_sqlite_unreachable_then_back_everything_buffered_is_delivered(tmp_path, model_for_sql):
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder / 'logs.db'}"
    logger = MonitoringLogger(
        "credit", SqlSink(url, "logs"), batch_rows=10, max_buffered_rows=40, retry_seconds=0.02
    )
    wrapped = monitor(model_for_sql, logger)
    X = applicants(np.random.default_rng(6), 6)[["income", "age"]]
    answers = [wrapped.predict(X) for _ in range(10)]  # 60 rows for a 40-row buffer
    assert all((a == model_for_sql.predict(X)).all() for a in answers)
    assert not logger.flush(0.3)
    status = logger.status()
    assert (status.buffered, status.dropped, status.delivered) == (40, 20, 0)
    assert "unable to open database file" in status.last_error

    folder.mkdir()
    assert logger.flush(10) and logger.close() == 0
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM logs")).scalar() == 40
    engine.dispose()


@pytest.mark.postgres
def test_postgres_database_missing_then_created_no_password_in_errors():
    postgres_or_skip()
    name = f"mp_sink_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgres@", "postgres:s3cret-pw@")
    sink = SqlSink(f"{base}/{name}", "logs")
    logger = MonitoringLogger("credit", sink, batch_rows=5, retry_seconds=0.05)
    assert "s3cret-pw" not in repr(sink)
    for i in range(12):
        logger.log({"x": float(i)}, i % 2, timestamp=T0)
    assert not logger.flush(0.5)
    status = logger.status()
    assert status.delivered == 0 and status.buffered == 12
    assert name in status.last_error and "s3cret-pw" not in status.last_error

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        assert logger.flush(30) and logger.close() == 0
        engine = create_engine(f"{base}/{name}")
        with engine.connect() as conn:
            xs = conn.execute(text("SELECT x FROM logs ORDER BY x")).scalars().all()
        engine.dispose()
        assert xs == [float(i) for i in range(12)]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def model_for_sql():
    from sklearn.linear_model import LogisticRegression

    frame = applicants(np.random.default_rng(0), 300)
    return LogisticRegression(max_iter=200).fit(
        frame[["income", "age"]], frame["income"] > frame["income"].median()
    )


def test_sink_for_writes_where_the_configured_source_reads(log_url, tmp_path, monkeypatch):
    config = sql_config(tmp_path)
    deployment = config.deployments[0]
    monkeypatch.delenv("LOGS_URL", raising=False)
    with pytest.raises(ValueError, match=r"logs\.url_env names LOGS_URL, which is not set"):
        sink_for(deployment)
    monkeypatch.setenv("LOGS_URL", log_url)
    logger = MonitoringLogger("credit", sink_for(deployment), config=config)
    logger.log({"income": 1.0, "age": 30.0, "purpose": "car"}, 1, timestamp=T0)
    assert logger.close() == 0
    rows = pd.concat(log_source(config, deployment).read_window(T0, T0 + HOUR))
    assert rows["income"].tolist() == [1.0] and rows["deployment"].tolist() == ["credit"]
