"""One locking rule for every write of the store: a write transaction that names what it
writes, and waits for any other transaction writing the same thing.

PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit hash of the name, taken as the transaction's
first statement and released at commit or rollback (also when the client dies). Under READ
COMMITTED the waiting writer's next statement sees the first writer's committed rows.
SQLite: ``BEGIN IMMEDIATE``: writers queue on the busy timeout instead of failing to upgrade a
read lock; the database has one writer at a time anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

MIGRATIONS_LOCK = ("monitoring_pipelines", "schema")


def advisory_key(*parts: object) -> int:
    """A stable signed 64-bit key for ``parts`` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def write_transaction(engine: Engine, *lock: object) -> Iterator[Connection]:
    """A transaction holding the write lock named by ``lock`` (e.g. table and partition key)
    from its first statement to its commit; rolled back on error."""
    with locked_transaction(engine, [lock]) as conn:
        yield conn


@contextmanager
def locked_transaction(engine: Engine, locks: Sequence[Sequence[object]]) -> Iterator[Connection]:
    """A transaction holding every write lock in ``locks`` from its first statement to its
    commit. On PostgreSQL they are taken in one statement, in the order of their keys, so two
    such transactions never wait for each other in a cycle."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite leaves BEGIN to the first write; this makes it the first statement.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            keys = sorted({advisory_key(*lock) for lock in locks})
            if len(keys) == 1:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": keys[0]})
            else:
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) k"),
                    {"keys": keys},
                )
        yield conn
