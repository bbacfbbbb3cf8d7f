"""Insert many rows at once. On SQLite the rows go to the driver's ``executemany`` with each
column's SQLAlchemy bind processor applied here, only for the columns that have one, and once
per distinct timestamp: SQLAlchemy's own per-row parameter processing costs more than the
insert itself (76,000 drift rows: 0.96 s of CPU through ``conn.execute(insert(table), rows)``,
0.43 s this way), and :data:`ROWS_PER_STATEMENT` rows go in one INSERT statement (that fleet
write with its DELETE: 1.02 -> 0.97 s). Rows may come as tuples in a given column order
(``insert_tuples``) or column by column (``insert_columns``, each row's tuple then built once,
in the statement's order), so a writer with many rows builds no dict per row. Other databases,
and rows that need SQLAlchemy (Python-side column defaults, rows of different keys), take
``conn.execute`` (on PostgreSQL it batches the rows into multi-row VALUES itself).

Reading many rows back (``select_rows``) is the mirror image: on SQLite the JSON arrays and
timestamps arrive as text, and a window's rows repeat their values (every hour of a column
stores its baseline's bin edges, every row of an hour its timestamp), so each column's result
processor runs once per distinct stored value instead of once per row."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column, Connection, Dialect, Select, Table, insert, type_coerce
from sqlalchemy.types import NullType


class JsonText(str):
    """A JSON column's value already serialized, exactly as the column's own serializer
    (``json.dumps``) would: :func:`insert_tuples` hands it to the driver as it is."""


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (column → value) into ``table`` in one executemany."""
    if not rows:
        return
    names = tuple(rows[0])
    if not _plain(conn, table, names) or any(row.keys() != rows[0].keys() for row in rows):
        conn.execute(insert(table), rows)
        return
    values = itemgetter(*names)
    insert_tuples(
        conn,
        table,
        names,
        [values(row) for row in rows] if len(names) > 1 else [(values(row),) for row in rows],
    )


def insert_tuples(
    conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in the order of the columns ``names``) into ``table`` in one
    executemany."""
    if rows:
        insert_columns(conn, table, names, list(zip(*rows, strict=True)))


def insert_columns(
    conn: Connection, table: Table, names: Sequence[str], columns: Sequence[Iterable[Any]]
) -> None:
    """Insert rows given column by column (``columns[i]`` the values of ``names[i]``, all of
    one length, each iterated once) into ``table`` in one executemany: a column's bind
    processor mapped over the column, and each row's tuple built once, in the statement's
    order."""
    names = list(names)
    if not _plain(conn, table, names):
        rows = [
            {name: _parsed(value) for name, value in zip(names, row, strict=True)}
            for row in zip(*columns, strict=True)
        ]
        if rows:
            conn.execute(insert(table), rows)
        return
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=names)
    given = dict(zip(names, columns, strict=True))
    ordered = []
    for name in compiled.positiontup:
        process = _processor(table.c[name], conn.dialect)
        ordered.append(given[name] if process is None else map(process, given[name]))
    rows = list(zip(*ordered, strict=True))
    if rows:
        _execute_many(conn, compiled.string, len(compiled.positiontup), rows)


ROWS_PER_STATEMENT = 200  # SQLite rows per INSERT statement (one VALUES group each)


def _execute_many(conn: Connection, single: str, width: int, rows: list[tuple]) -> None:
    """``executemany`` of the one-row INSERT ``single`` over ``rows``, taken up to
    :data:`ROWS_PER_STATEMENT` rows at a time by one statement of that many VALUES groups
    (SQLite steps one statement per row of an executemany; one per group of rows is about a
    quarter cheaper), in the same order, so rows and ids are those of the one-row statement."""
    head, values, group = single.rpartition(" VALUES ")
    limit = conn.connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = min(ROWS_PER_STATEMENT, limit // max(width, 1), len(rows))
    if not values or group != "(" + ", ".join(["?"] * width) + ")" or per < 2:
        conn.exec_driver_sql(single, rows)
        return
    full = len(rows) - len(rows) % per
    flat = chain.from_iterable
    grouped = [tuple(flat(rows[i : i + per])) for i in range(0, full, per)]
    conn.exec_driver_sql(f"{head} VALUES {', '.join([group] * per)}", grouped)
    if full < len(rows):
        conn.exec_driver_sql(single, rows[full:])


def _plain(conn: Connection, table: Table, names: Sequence[str]) -> bool:
    """Whether the rows can go to the driver as they are (SQLite, no Python-side defaults)."""
    return conn.dialect.name == "sqlite" and all(
        column.default is None for column in table.c if column.name not in names
    )


def _parsed(value: Any) -> Any:
    """A value as SQLAlchemy takes it: :class:`JsonText` parsed back (it serializes itself)."""
    return json.loads(value) if type(value) is JsonText else value


def _processor(column: Column, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor; for timestamps, applied once per distinct value; for JSON,
    not applied to :class:`JsonText`."""
    impl = column.type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is not None and isinstance(impl, JSON):
        serialize, null = process, process(None)  # None is stored as JSON null, once

        def process(value: Any) -> Any:
            if value is None:
                return null
            return value if type(value) is JsonText else serialize(value)

        return process
    if process is None or column.type.python_type is not datetime:
        return process
    done: dict[datetime, Any] = {}

    def once(value: Any) -> Any:
        if value is None:
            return process(value)
        if value not in done:
            done[value] = process(value)
        return done[value]

    return once


def select_rows(conn: Connection, query: Select) -> list[dict[str, Any]]:
    """The rows of ``query`` as dicts (column key → value), as ``conn.execute(query).mappings()``
    gives them; on SQLite each column's result processor is applied once per distinct stored
    value, so equal values are one object (callers must not mutate them)."""
    if conn.dialect.name != "sqlite":
        return [dict(row) for row in conn.execute(query).mappings()]
    columns = list(query.selected_columns)
    names = [column.key for column in columns]
    raw = query.with_only_columns(
        *(type_coerce(c, NullType()).label(name) for c, name in zip(columns, names, strict=True)),
        maintain_column_froms=True,
    )
    rows = conn.execute(raw).all()
    if not rows:
        return []
    values = list(zip(*rows, strict=True))
    for i, column in enumerate(columns):
        process = column.type.dialect_impl(conn.dialect).result_processor(conn.dialect, None)
        if process is not None:  # each distinct value once, then a lookup per row
            done = {value: process(value) for value in dict.fromkeys(values[i])}
            values[i] = map(done.__getitem__, values[i])
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
