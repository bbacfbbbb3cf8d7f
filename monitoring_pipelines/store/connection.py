"""Engines for the monitoring store with the connection hygiene a service needs.

- Pooled per process, and fork-safe: a forked child drops the pools it inherited
  (``engine.dispose(close=False)``) so it never shares a parent's open connection.
- PostgreSQL statements time out after ``$MONITORING_STATEMENT_TIMEOUT_SECONDS``
  (default 300 s, 0 = no limit), set in the connection's start-up options.
- Connecting retries transient failures (refused, timed out, server starting) with
  exponential backoff, ``$MONITORING_DATABASE_CONNECT_ATTEMPTS`` attempts (default 5), then
  fails with :class:`DatabaseUnreachable` naming host, port and database, never the password.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import weakref

from sqlalchemy import URL, Engine, NullPool, create_engine, event
from sqlalchemy.engine import make_url

from monitoring_pipelines.alerts.redact import redact, redact_url

STATEMENT_TIMEOUT_ENV = "MONITORING_STATEMENT_TIMEOUT_SECONDS"
CONNECT_ATTEMPTS_ENV = "MONITORING_DATABASE_CONNECT_ATTEMPTS"
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 300.0
DEFAULT_CONNECT_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
SQLITE_BUSY_TIMEOUT_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 10  # per attempt, unless the URL sets connect_timeout
LIBPQ_DRIVERS = ("psycopg", "psycopg2")
# Failures that waiting will not cure: report them at once instead of retrying.
PERMANENT_FAILURES = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "unable to open database file",
)

_pooled_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


class DatabaseUnreachable(ConnectionError):
    """The store's database could not be reached; the message names where, never a secret."""


def redacted(url: str | URL) -> str:
    """The URL with any password hidden, safe for logs and errors (also when an unescaped
    ``@`` in the password fools the parser: ``alerts.redact.redact_url``)."""
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    return redact_url(text)


def create_store_engine(url: str | URL, *, pooled: bool = True) -> Engine:
    """An engine for the store at ``url``; ``pooled=False`` opens a fresh connection each time
    (migrations use one so their session settings never reach the pool)."""
    url = make_url(url)
    if url.host and "@" in url.host:  # the parser split at an "@" of the password
        raise ValueError(
            f"the database URL {redacted(url)} has an unescaped '@' in its user or password: "
            "write it as %40"
        )
    backend = url.get_backend_name()
    options: dict = {} if pooled else {"poolclass": NullPool}
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ValueError(
                "an in-memory SQLite store vanishes with its connection: use a file, "
                "e.g. sqlite:////tmp/monitoring.db"
            )
        busy = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        engine = create_engine(url, connect_args=busy, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
    elif backend == "postgresql":
        if url.get_driver_name() not in LIBPQ_DRIVERS:
            raise ValueError(
                f"unsupported PostgreSQL driver {url.get_driver_name()!r} in {redacted(url)}: "
                "use postgresql+psycopg:// (or postgresql+psycopg2://)"
            )
        connect_args = {}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        if pooled:
            connect_args["options"] = _libpq_options(url)
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)
    else:
        raise ValueError(
            f"unsupported database {backend!r} in {redacted(url)}: the monitoring store runs on "
            "sqlite or postgresql"
        )
    event.listen(engine, "do_connect", _retrying_connect(url, connect_attempts()))
    if pooled:
        _pooled_engines.add(engine)
    return engine


def statement_timeout_seconds() -> float:
    """``$MONITORING_STATEMENT_TIMEOUT_SECONDS`` (0 disables), 300 when unset."""
    raw = os.environ.get(STATEMENT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_STATEMENT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"{STATEMENT_TIMEOUT_ENV}={raw!r}: expected seconds >= 0 (0 = no limit)")
    return seconds


def connect_attempts() -> int:
    """``$MONITORING_DATABASE_CONNECT_ATTEMPTS`` (at least 1), 5 when unset."""
    raw = os.environ.get(CONNECT_ATTEMPTS_ENV, "").strip()
    if not raw:
        return DEFAULT_CONNECT_ATTEMPTS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CONNECT_ATTEMPTS_ENV}={raw!r}: expected a whole number >= 1")
    return int(raw)


def _libpq_options(url: URL) -> str:
    """The start-up options: our statement timeout first, so one in the URL's own
    ``options`` (applied later) wins."""
    milliseconds = round(statement_timeout_seconds() * 1000)
    own = url.query.get("options", "")
    own = " ".join(own) if isinstance(own, tuple) else own
    return f"-c statement_timeout={milliseconds} {own}".strip()


def _retrying_connect(url: URL, attempts: int):
    """A ``do_connect`` hook: retry transient failures with backoff, then fail clearly."""

    def connect(dialect, _record, cargs, cparams):
        started = time.monotonic()
        delay = FIRST_BACKOFF_SECONDS
        for attempt in range(1, attempts + 1):
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as error:
                reason = _reason(error, url)
                permanent = any(p in reason.lower() for p in PERMANENT_FAILURES)
                if permanent or attempt == attempts:
                    elapsed = time.monotonic() - started
                    raise DatabaseUnreachable(_unreachable(url, attempt, elapsed, reason)) from None
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    return connect


def _reason(error: Exception, url: URL) -> str:
    """The driver's message on one line, with URL credentials and the password (as a whole
    word, so other text is not garbled) removed should they appear."""
    message = redact(" ".join(str(error).split()))
    if url.password:
        message = re.sub(rf"(?<!\w){re.escape(str(url.password))}(?!\w)", "***", message)
    return message


def _unreachable(url: URL, attempts: int, elapsed: float, reason: str) -> str:
    if url.get_backend_name() == "sqlite":
        where = f"the SQLite file {url.database!r}"
    else:
        where = f"{url.host or 'localhost'}:{url.port or 5432} (database {url.database!r})"
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''} over {elapsed:.1f} s"
    return (
        f"cannot connect to the monitoring database at {where} after {tries}: {reason} "
        f"[url {redacted(url)}]"
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL so readers (the UI, sensors) never block the writer of a partition."""
    cursor = dbapi_connection.cursor()
    try:
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _use_wal(cursor) -> None:
    """Switch the file to WAL once (it stays so). The switch needs the file to itself and does
    not wait on the busy timeout, so while another process holds it (a first start-up's
    migration), wait here, up to the same timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked: could not switch to WAL")
        time.sleep(0.05)


def _forget_inherited_pools() -> None:
    """In a forked child: new pools, leaving the parent's connections open for the parent."""
    for engine in list(_pooled_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_pools)
