"""Alembic migrations at start-up: from an empty database, from the schema release 0.1.0 made
with ``create_all`` (rows kept), two processes migrating at once, and the migrated schema
equal to ``store/schema.py`` on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, insert, select, text

from monitoring_pipelines.store.drift import write_drift_scores
from monitoring_pipelines.store.engine import ensure_deployment_views, get_engine
from monitoring_pipelines.store.migrate import (
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
)
from monitoring_pipelines.store.schema import (
    aggregates,
    alerts,
    drift_scores,
    metadata,
    store_counters,
    written_windows,
)
from monitoring_pipelines.store.windows import windows_since
from tests.conftest import postgres_schema
from tests.store.legacy import T0, H, load_previous_release

REPO = Path(__file__).resolve().parents[2]


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the database match schema.py."""
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, metadata)
    engine.dispose()
    return differences


def revision_rows(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    engine.dispose()
    return rows


def test_head_is_the_newest_revision_of_a_linear_history():
    versions = REPO / "monitoring_pipelines" / "store" / "migrations" / "versions"
    newest = max(p.stem for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert head_revision() == newest


def test_empty_database_is_migrated_to_schema_py(empty_store_url):
    engine = get_engine(empty_store_url)
    assert revision_rows(empty_store_url) == [head_revision()]
    assert schema_differences(empty_store_url) == []
    with engine.connect() as conn:
        assert conn.execute(select(store_counters.c.value)).scalar_one() == 0
        if engine.dialect.name == "sqlite":  # ids never reused: a rewrite must look new
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'drift_scores'")
            ).scalar_one()
            assert "AUTOINCREMENT" in ddl
    with engine.begin() as conn:  # the comparison can fail: a missing index is a difference
        conn.execute(text("DROP INDEX ix_alerts_history"))
    assert [d[0] for d in schema_differences(empty_store_url)] == ["add_index"]


def test_previous_release_schema_is_stamped_then_upgraded_with_its_rows(empty_store_url):
    load_previous_release(empty_store_url)
    engine = get_engine(empty_store_url)
    assert revision_rows(empty_store_url) == [head_revision()]
    assert schema_differences(empty_store_url) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(drift_scores)).scalar_one() == 7
        [baseline] = conn.execute(select(aggregates)).mappings().all()
        [alert] = conn.execute(select(alerts)).mappings().all()
        assert conn.execute(select(store_counters.c.value)).scalar_one() == 4
        query = select(written_windows.c.commit_seq, written_windows.c.row_count)
        counts = {seq: rows for seq, rows in conn.execute(query)}
    assert list(baseline["bin_counts"]) == [3, 4] and baseline["row_count"] == 8
    assert (alert["dedup_key"], alert["slack_status"]) == ("model_a|hour|k", "sent")
    # existing windows are numbered in the order of their newest id, the day window included
    hourly = windows_since(engine, "drift_scores", "hour", 0, 100)
    assert [(w.window_start, w.commit_seq) for w in hourly] == [
        (T0, 1),
        (T0 + H, 2),
        (T0 + 2 * H, 4),
    ]
    assert counts == {1: 2, 2: 2, 3: 1, 4: 2}
    write_drift_scores(engine, "model_a", T0 + 3 * H, T0 + 4 * H, "hour", {})
    [new] = windows_since(engine, "drift_scores", "hour", 4, 100)
    assert (new.window_start, new.commit_seq, new.row_count) == (T0 + 3 * H, 5, 0)


def test_a_database_with_only_some_of_the_tables_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE aggregates (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(RuntimeError) as caught:
        get_engine(url)
    assert "has tables aggregates but not drift_scores, model_performance, alerts" in str(
        caught.value
    )


MIGRATE_AT = """
import sys, time
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.migrate import current_revision
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
with get_engine(sys.argv[1]).connect() as conn:
    print(current_revision(conn))
"""


def test_two_processes_migrating_at_once_both_succeed(empty_store_url):
    start = time.time() + 4.0  # both interpreters are up and importing by then
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_AT, empty_store_url, str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outcomes]
    assert [out.strip() for out, _ in outcomes] == [head_revision()] * 2
    assert revision_rows(empty_store_url) == [head_revision()]
    assert schema_differences(empty_store_url) == []


@pytest.mark.postgres
def test_concurrent_creators_of_one_deployment_view_all_succeed():
    with postgres_schema("mp_views") as url:
        engine = get_engine(url)
        barrier = threading.Barrier(6)
        errors: list[BaseException] = []

        def create(index: int) -> None:
            barrier.wait()
            try:
                ensure_deployment_views(engine, ["model_v", f"model_{index}"])
            except BaseException as error:  # collected for the assertion below
                errors.append(error)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with engine.connect() as conn:
            views = conn.execute(
                text("SELECT count(*) FROM pg_views WHERE schemaname = current_schema()")
            ).scalar_one()
            assert current_revision(conn) == head_revision()
        assert views == 14  # aggregates_<id> and segments_<id> for 7 deployments


def test_folded_counts_leave_value_counts_on_upgrade_and_user_other_stays(empty_store_url):
    """Before 0004 the folded count was also written under ``__other__`` in value_counts
    (over a user category of that name); where other_counts > 0 that key is removed, where
    nothing was folded a ``__other__`` key is a user category and stays."""
    engine = create_engine(empty_store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003_slack_guarantee")
        base = {"deployment_id": "m", "timestamp": T0, "is_baseline": False, "is_response": False}
        base |= {"logical_type": 2, "missing_counts": 0, "row_count": 9, "computed_at": T0}
        base |= {"max_categories": 1, "invalid_counts": 0}
        conn.execute(
            insert(aggregates),
            [
                base
                | {"column_name": "f", "value_counts": {"a": 3, "__other__": 6}}
                | {"count": 9, "other_counts": 6},
                base
                | {"column_name": "u", "value_counts": {"a": 3, "__other__": 6}}
                | {"count": 9, "other_counts": 0},
            ],
        )
    engine.dispose()
    engine = get_engine(empty_store_url)  # upgrades to head
    with engine.connect() as conn:
        query = select(aggregates.c.column_name, aggregates.c.value_counts)
        stored = {name: counts for name, counts in conn.execute(query)}
        assert current_revision(conn) == head_revision()
    assert stored == {"f": {"a": 3}, "u": {"a": 3, "__other__": 6}}
