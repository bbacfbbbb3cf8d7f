"""Fixtures shared by the whole suite: one SQLite store and one Dagster instance per session,
and the machine's PostgreSQL server (a skip is a failure under CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_or_skip() -> str:
    """The PostgreSQL test URL, or a skip (a failure when CI=true) naming why it is unreachable."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # any connection failure means "no server here"
        reason = f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {type(error).__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@contextmanager
def postgres_schema(prefix: str = "mp_test") -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards, as a URL with search_path set."""
    url = postgres_or_skip()
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def postgres_database(prefix: str = "mp_db") -> Iterator[str]:
    """A uniquely named database on the test server (its name), dropped afterwards even while
    clients are still connected (Dagster's storage keeps pools open)."""
    url = postgres_or_skip()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One schema of its own for the whole session."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitoring.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Engine:
    from monitoring_pipelines.store.engine import get_engine

    return get_engine(sqlite_url)


@pytest.fixture(autouse=True)
def no_current_defs_state_storage() -> Iterator[None]:
    """Each test starts with no current defs-state storage: an instance that was not disposed
    leaves Dagster's context variable pointing at it, and a later test resolving that dead
    weakref fails ("Attempted to resolve undefined DagsterInstance weakref")."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture(scope="session")
def dagster_instance(tmp_path_factory):
    """One temporary Dagster instance for the whole session."""
    import dagster as dg

    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as instance:
        yield instance


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty store: a SQLite file, or a fresh schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with postgres_schema("mp_store") as url:
            yield url


DEMO_END = datetime(2026, 11, 10, 0, tzinfo=UTC)
DEMO_HOURS, DEMO_DRIFT_FROM = 8, 4
DEMO_DRIFTED = {"annual_income", "loan_purpose", "years_employed"}


@dataclass(frozen=True)
class DemoRun:
    """The one demo of the session: its result, printed output and DAGSTER_HOME."""

    result: object
    output: str
    home: Path

    def env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point a test's environment at this demo (its instance, config and SQLite store)."""
        monkeypatch.setenv("DAGSTER_HOME", str(self.home))
        monkeypatch.setenv("MONITORS_CONFIG", str(REPO / "monitors.yaml"))
        monkeypatch.delenv("MONITORING_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """The demo on a reduced size (8 hours, drift from hour 4), run once per session through
    Dagster into a persistent DAGSTER_HOME and shared by every test that reads demo data;
    without the retraining pause, so every hour is judged against the training reference
    (tests/defs/test_demo_retraining.py runs the demo with it)."""
    import io

    from monitoring_pipelines.defs.demo import DemoSettings, run_demo

    home = tmp_path_factory.mktemp("demo_home")
    settings = DemoSettings(
        hours=DEMO_HOURS,
        drift_from_hour=DEMO_DRIFT_FROM,
        rows_per_hour=1500,
        reference_rows=6000,
        end=DEMO_END,
        retrain=False,
    )
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        run = DemoRun(None, "", home)
        run.env(patch)
        result = run_demo(settings, out)
    return DemoRun(result, out.getvalue(), home)


@pytest.fixture(scope="session")
def retrained_demo_run(tmp_path_factory) -> DemoRun:
    """The same reduced demo with its retraining pause (paused at hour 6): hours 0-5 are
    profiled against baseline v1, the retraining fits v2, and hours 6-7 are judged against
    it. Run once per session and shared, like ``demo_run``: tests read it, never change it."""
    import io

    from monitoring_pipelines.defs.demo import DemoSettings, run_demo

    home = tmp_path_factory.mktemp("retraining_demo")
    settings = DemoSettings(
        hours=DEMO_HOURS,
        drift_from_hour=DEMO_DRIFT_FROM,
        rows_per_hour=1500,
        reference_rows=6000,
        end=DEMO_END,
    )
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        DemoRun(None, "", home).env(patch)
        result = run_demo(settings, out)
    return DemoRun(result, out.getvalue(), home)


def broker_or_skip(port: int | None = None):
    """A started local Kafka broker (tansu), or a skip (a failure when CI=true) naming why."""
    from monitoring_pipelines.demo.broker import BrokerUnavailable, LocalBroker

    try:
        return LocalBroker(port).start()
    except BrokerUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{error} (CI=true: Kafka tests must run)")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """One Kafka-protocol broker for the session (in-memory, free port): its bootstrap servers.
    Tests create topics of their own (uuid names), so they never see each other's messages."""
    broker = broker_or_skip()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()
