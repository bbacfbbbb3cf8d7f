"""Written windows: which windows of a partitioned table were (re)written, in commit order.

A writer records its window as the last step of its write transaction
(:func:`record_window`, called by ``replace_partition(..., window=...)``); the window gets the
next ``commit_seq``, and the counter row it increments stays locked until the transaction
ends, so a transaction that commits later always gets a higher ``commit_seq``. A judge keeps
the last ``commit_seq`` it judged as its cursor and reads :func:`windows_since` then
:func:`window_rows`: every committed window is seen, in-flight ones appear once they commit,
and a rewritten window appears again (once, however often it was rewritten in between).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    insert,
    select,
    update,
)

from monitoring_pipelines.store.schema import store_counters, written_windows
from monitoring_pipelines.store.times import utc

COMMIT_SEQ = "window_commit_seq"
KEY_COLUMNS = ("deployment_id", "window_start", "granularity")


@dataclass(frozen=True)
class Window:
    """A window written as one partition: deployment, granularity, [start, end)."""

    deployment_id: str
    granularity: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class WrittenWindow:
    """A row of ``written_windows``: the window, its rows at the last write, and when."""

    source: str
    deployment_id: str
    granularity: str
    window_start: datetime
    window_end: datetime
    row_count: int
    version: int
    commit_seq: int


def record_window(conn: Connection, source: str, window: Window, row_count: int) -> int:
    """Record ``window`` of table ``source`` as written by this transaction (a rewrite bumps
    its version) and return its ``commit_seq``. Call it last, just before commit."""
    seq = _next_commit_seq(conn)
    key = {
        "source": source,
        "deployment_id": window.deployment_id,
        "granularity": window.granularity,
        "window_start": window.start,
    }
    values = {
        "window_end": window.end,
        "row_count": row_count,
        "commit_seq": seq,
        "written_at": datetime.now(UTC),
    }
    condition = [written_windows.c[name] == value for name, value in key.items()]
    bumped = conn.execute(
        update(written_windows)
        .where(*condition)
        .values(**values, version=written_windows.c.version + 1)
    )
    if bumped.rowcount == 0:  # first write; the caller's partition lock excludes a racing one
        conn.execute(insert(written_windows).values(**key, **values, version=1))
    return seq


def record_windows(
    conn: Connection, source: str, windows: Sequence[tuple[Window, int]]
) -> list[int]:
    """:func:`record_window` of many (window, row count) of ``source`` in one transaction:
    consecutive commit_seqs in the given order, one counter update and one statement per
    kind of write. Call it last, just before commit."""
    last = _next_commit_seq(conn, len(windows))
    seqs = list(range(last - len(windows) + 1, last + 1))
    now = datetime.now(UTC)
    names = ("deployment_id", "granularity", "window_start")
    existing = _recorded(conn, source, [w for w, _ in windows])
    values = [
        {
            "k_source": source,
            **{f"k_{name}": getattr(window, name.removeprefix("window_")) for name in names},
            "v_window_end": window.end,
            "v_row_count": row_count,
            "v_commit_seq": seq,
            "v_written_at": now,
        }
        for (window, row_count), seq in zip(windows, seqs, strict=True)
    ]
    bumped = [v for v in values if _key_of(v) in existing]
    added = [v for v in values if _key_of(v) not in existing]
    if bumped:
        condition = [written_windows.c[n] == bindparam(f"k_{n}") for n in ("source", *names)]
        changes = {n: bindparam(f"v_{n}") for n in ("window_end", "row_count", "commit_seq")}
        conn.execute(
            update(written_windows)
            .where(*condition)
            .values(
                **changes,
                written_at=bindparam("v_written_at"),
                version=written_windows.c.version + 1,
            ),
            bumped,
        )
    if added:
        rows = [{k[2:]: v for k, v in value.items()} | {"version": 1} for value in added]
        conn.execute(insert(written_windows), rows)
    return seqs


def _recorded(conn: Connection, source: str, windows: Sequence[Window]) -> set[tuple]:
    """Keys (deployment, granularity, start) among ``windows`` already in written_windows."""
    query = select(
        written_windows.c.deployment_id,
        written_windows.c.granularity,
        written_windows.c.window_start,
    ).where(
        written_windows.c.source == source,
        written_windows.c.deployment_id.in_(sorted({w.deployment_id for w in windows})),
        written_windows.c.window_start >= min(w.start for w in windows),
        written_windows.c.window_start <= max(w.start for w in windows),
    )
    return {(d, g, utc(s)) for d, g, s in conn.execute(query)}


def _key_of(value: dict[str, Any]) -> tuple:
    return value["k_deployment_id"], value["k_granularity"], utc(value["k_window_start"])


def _next_commit_seq(conn: Connection, count: int = 1) -> int:
    """Add ``count`` to the counter and return its new value; its row lock orders this
    transaction's commit after others'."""
    counter = store_counters.c.name == COMMIT_SEQ
    bumped = conn.execute(
        update(store_counters).where(counter).values(value=store_counters.c.value + count)
    )
    if bumped.rowcount != 1:
        raise RuntimeError(
            f"store_counters has no {COMMIT_SEQ!r} row: the schema is older than revision "
            "0002_written_windows (get_engine upgrades it)"
        )
    return conn.execute(select(store_counters.c.value).where(counter)).scalar_one()


def windows_since(
    engine: Engine, source: str, granularity: str, after_seq: int, limit: int
) -> list[WrittenWindow]:
    """Up to ``limit`` windows of ``source`` at ``granularity`` with ``commit_seq > after_seq``,
    in commit order (an index range scan: the cost is the new windows, not the history)."""
    query = (
        select(*(written_windows.c[f] for f in WrittenWindow.__dataclass_fields__))
        .where(
            written_windows.c.source == source,
            written_windows.c.granularity == granularity,
            written_windows.c.commit_seq > after_seq,
        )
        .order_by(written_windows.c.commit_seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    instants = ("window_start", "window_end")
    return [WrittenWindow(**{**row, **{k: utc(row[k]) for k in instants}}) for row in rows]


def whole_windows(windows: Sequence[WrittenWindow], max_rows: int) -> list[WrittenWindow]:
    """The longest leading run of ``windows`` with at most ``max_rows`` rows in all, and at
    least one window (a window larger than ``max_rows`` is read whole)."""
    taken, rows = [], 0
    for window in windows:
        if taken and rows + window.row_count > max_rows:
            break
        taken.append(window)
        rows += window.row_count
    return taken


def window_rows(
    engine: Engine,
    table: Table,
    granularity: str,
    after_seq: int,
    up_to_seq: int,
    columns: Sequence[Column] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    """The current rows of ``table``'s windows at ``granularity`` with
    ``after_seq < commit_seq <= up_to_seq``, each with its window's ``commit_seq``, in commit
    order then id. A window rewritten since it was listed has moved past ``up_to_seq``: it is
    left out here and read again at its new ``commit_seq``. ``where`` narrows the rows."""
    join = [table.c[name] == written_windows.c[name] for name in KEY_COLUMNS if name in table.c]
    query = (
        select(*(columns if columns is not None else table.c), written_windows.c.commit_seq)
        .join(written_windows, and_(*join))
        .where(
            written_windows.c.source == table.name,
            written_windows.c.granularity == granularity,
            written_windows.c.commit_seq > after_seq,
            written_windows.c.commit_seq <= up_to_seq,
            *where,
        )
        .order_by(written_windows.c.commit_seq, table.c.id)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
