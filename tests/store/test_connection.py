"""Connection hygiene: a clear error naming host and port (never the password) when the
database is unreachable, retries of transient failures, the PostgreSQL statement timeout, and
pools that a forked child does not share."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
import traceback
from contextlib import closing

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from monitoring_pipelines.store.connection import (
    CONNECT_ATTEMPTS_ENV,
    STATEMENT_TIMEOUT_ENV,
    DatabaseUnreachable,
    create_store_engine,
)
from monitoring_pipelines.store.engine import get_engine
from tests.conftest import postgres_or_skip
from tests.fakes.credentials import fake_secret

PASSWORD = fake_secret("pw")


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def full_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def test_closed_port_names_host_and_port_never_the_password(monkeypatch):
    monkeypatch.setenv(CONNECT_ATTEMPTS_ENV, "3")
    port = free_port()
    url = f"postgresql+psycopg://monitor:{PASSWORD}@127.0.0.1:{port}/monitoring"
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as caught:
        get_engine(url)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith(
        f"cannot connect to the monitoring database at 127.0.0.1:{port} (database 'monitoring') "
        "after 3 attempts over "
    )
    assert "Connection refused" in message and "monitor:***@" in message
    assert PASSWORD not in full_text(caught.value)
    assert 1.5 <= elapsed < 10  # backoff 0.5 s + 1 s between the three attempts


@pytest.mark.postgres
def test_permanent_failure_is_reported_at_once():
    server = make_url(postgres_or_skip())
    url = server.set(database="mp_no_such_database", password=PASSWORD)
    with pytest.raises(DatabaseUnreachable) as caught:
        get_engine(url.render_as_string(hide_password=False))
    assert "after 1 attempt over" in str(caught.value)
    assert 'database "mp_no_such_database" does not exist' in str(caught.value)
    assert PASSWORD not in full_text(caught.value)


def test_sqlite_file_that_cannot_be_opened_is_named(tmp_path):
    path = tmp_path / "missing_folder" / "store.db"
    with pytest.raises(DatabaseUnreachable, match=f"the SQLite file '{path}' after 1 attempt"):
        get_engine(f"sqlite:///{path}")


def test_unsupported_databases_and_drivers_are_refused():
    with pytest.raises(ValueError, match=r"unsupported database 'mysql'.*sqlite or postgresql"):
        create_store_engine(f"mysql://user:{PASSWORD}@db/monitoring")
    with pytest.raises(ValueError, match="an in-memory SQLite store vanishes"):
        create_store_engine("sqlite://")
    with pytest.raises(ValueError, match=r"driver 'pg8000'.*user:\*\*\*@db") as caught:
        create_store_engine(f"postgresql+pg8000://user:{PASSWORD}@db/monitoring")
    assert PASSWORD not in str(caught.value)


def forward(listener: socket.socket, target: tuple[str, int]) -> None:
    """Relay every accepted connection to ``target`` (a minimal TCP proxy)."""
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # the listener was closed: the test is over
            return
        upstream = socket.create_connection(target)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(source, sink), daemon=True).start()


def pump(source: socket.socket, sink: socket.socket) -> None:
    with closing(source), closing(sink):
        while data := source.recv(65536):
            sink.sendall(data)


@pytest.mark.postgres
def test_a_server_that_comes_up_during_the_backoff_is_reached(postgres_url):
    server = make_url(postgres_url)
    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def come_up_late() -> None:
        time.sleep(1.2)  # the first two attempts are refused
        listener.bind(("127.0.0.1", port))
        listener.listen()
        forward(listener, (server.host, server.port or 5432))

    threading.Thread(target=come_up_late, daemon=True).start()
    try:
        started = time.monotonic()
        engine = get_engine(server.set(port=port).render_as_string(hide_password=False))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert time.monotonic() - started >= 1.2
        engine.dispose()
    finally:
        listener.close()


@pytest.mark.postgres
def test_statement_timeout_default_environment_and_url(monkeypatch, postgres_url):
    def timeout_of(url: str) -> str:
        engine = create_store_engine(url)
        with engine.connect() as conn:
            value = conn.execute(text("SHOW statement_timeout")).scalar_one()
        engine.dispose()
        return value

    assert timeout_of(postgres_url) == "5min"
    monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, "0.2")
    engine = create_store_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "200ms"
        assert conn.execute(text("SHOW search_path")).scalar_one().startswith("mp_test_")
        with pytest.raises(OperationalError, match="canceling statement due to statement timeout"):
            conn.execute(text("SELECT pg_sleep(2)"))
    engine.dispose()
    own = make_url(postgres_url)
    options = f"{own.query['options']} -c statement_timeout=1500"
    assert timeout_of(own.update_query_dict({"options": options}).render_as_string()) == "1500ms"
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, bad)
        with pytest.raises(ValueError, match=f"{STATEMENT_TIMEOUT_ENV}='{bad}'"):
            create_store_engine(postgres_url)
    monkeypatch.delenv(STATEMENT_TIMEOUT_ENV)
    monkeypatch.setenv(CONNECT_ATTEMPTS_ENV, "0")
    with pytest.raises(ValueError, match=f"{CONNECT_ATTEMPTS_ENV}='0'"):
        create_store_engine(postgres_url)


def report_backend_pid(url: str, answers) -> None:
    with get_engine(url).connect() as conn:
        answers.put(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
def test_a_forked_child_opens_its_own_connections(postgres_url):
    engine = get_engine(postgres_url)
    with engine.connect() as conn:  # now pooled, idle, in the parent
        parent = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fork = multiprocessing.get_context("fork")
    answers = fork.Queue()
    child = fork.Process(target=report_backend_pid, args=(postgres_url, answers))
    child.start()
    from_child = answers.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert from_child != parent
    with engine.connect() as conn:  # the parent's pooled connection still works, untouched
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == parent


def test_an_unparsable_url_names_the_variable_and_hides_its_value(monkeypatch):
    from monitoring_pipelines.store.engine import DATABASE_URL_ENV, database_url

    monkeypatch.setenv(DATABASE_URL_ENV, "postgres-not-a-url:s3cret-token")
    with pytest.raises(ValueError, match=DATABASE_URL_ENV) as raised:
        database_url()
    assert "s3cret" not in str(raised.value)
