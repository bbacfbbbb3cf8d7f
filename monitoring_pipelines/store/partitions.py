"""Idempotent partition writes: delete a partition's rows, insert the new ones, one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, insert


def replace_partition(
    engine: Engine, table: Table, key: dict[str, Any], rows: Sequence[dict[str, Any]]
) -> int:
    """Replace the rows of ``table`` matching ``key`` (column → value) with ``rows``.

    Re-running a partition gives the same rows, never duplicates; a failure rolls
    back to the old rows.
    """
    condition = and_(*(table.c[name] == value for name, value in key.items()))
    with engine.begin() as conn:
        conn.execute(delete(table).where(condition))
        if rows:
            conn.execute(insert(table), [{**row, **key} for row in rows])
    return len(rows)
