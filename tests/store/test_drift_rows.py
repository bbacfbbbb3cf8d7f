"""The values a drift result stores (``write_drift_windows``): finite numbers as float8, NaN and
±inf as NULL, numpy scalars as plain numbers, an empty detail as no detail, on SQLite and
PostgreSQL, whatever type the result's fields hold."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import numpy as np
import pytest

from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.result_table import FIELDS, ResultTable
from monitoring_pipelines.store.drift import (
    DriftWindow,
    read_drift_scores,
    write_drift_scores,
    write_drift_windows,
)
from monitoring_pipelines.store.engine import get_engine

HOUR = datetime(2026, 11, 4, 5, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return get_engine(request.getfixturevalue("postgres_url"))


RESULTS = [  # (result, what is stored: value, p_value, threshold, drifted, sizes, detail)
    (
        DriftResult("psi", 0.25, None, 0.1, "moderate", True, 100, 80),
        (0.25, None, 0.1, True, 100, 80, None),
    ),
    (
        DriftResult("ks", np.float64(0.5), np.float64(1e-9), 0.05, "drifted", np.bool_(True), 7, 9),
        (0.5, 1e-9, 0.05, True, 7, 9, None),
    ),
    (
        DriftResult("z_score", math.nan, None, 0.5, "undefined", False, np.int64(3), 4, {}),
        (None, None, 0.5, False, 3, 4, None),
    ),
    (
        DriftResult("wasserstein", math.inf, math.nan, 1, "x", np.bool_(False), 5, 6),
        (None, None, 1.0, False, 5, 6, None),
    ),
    (
        DriftResult(
            "tvd", -math.inf, None, 0.2, "stable", False, 1, 2, MappingProxyType({"k": 1.5})
        ),
        (None, None, 0.2, False, 1, 2, {"k": 1.5}),
    ),
    (
        DriftResult("psi", 1e-300, None, 0.1, "stable", False, 1, 2, {"a": math.inf, "b": [1]}),
        (1e-300, None, 0.1, False, 1, 2, {"a": None, "b": [1]}),
    ),
]


def test_each_field_is_stored_as_a_plain_value(engine) -> None:
    scores = {f"c{i}": (result,) for i, (result, _) in enumerate(RESULTS)}
    write_drift_scores(engine, "rows_model", HOUR, HOUR + H, "hour", scores)
    rows = read_drift_scores(engine, "rows_model", HOUR, HOUR + H)
    fields = ("value", "p_value", "threshold", "drifted", "reference_size", "current_size")
    got = {row["column_name"]: (*(row[f] for f in fields), row["detail"]) for row in rows}
    assert got == {f"c{i}": expected for i, (_, expected) in enumerate(RESULTS)}
    for row in rows:
        assert all(type(row[f]) in (float, type(None)) for f in fields[:3])
        assert type(row["drifted"]) is bool and type(row["reference_size"]) is int


def test_a_result_table_stores_the_rows_of_its_results(engine) -> None:
    """The batch's column-oriented results (``ResultTable``) are written from their lists: the
    same rows, field for field and in the same order, as the same results given as
    ``DriftResult`` objects."""
    results = [result for result, _ in RESULTS]
    columns = [f"c{i // 2}" for i in range(len(results))]  # two results per column
    fields = ([getattr(r, name) for r in results] for name in FIELDS)
    table = ResultTable(sorted(set(columns)), columns, *fields)
    assert [r for rs in table.values() for r in rs] == results
    write_drift_scores(engine, "table_model", HOUR, HOUR + H, "hour", table)
    write_drift_scores(engine, "table_model", HOUR + H, HOUR + 2 * H, "hour", dict(table))
    rows = read_drift_scores(engine, "table_model", HOUR, HOUR + 2 * H)
    ignored = {"id", "window_start", "window_end", "computed_at"}
    first, second = (
        [
            {k: v for k, v in row.items() if k not in ignored}
            for row in rows
            if row["window_start"] == t
        ]
        for t in (HOUR, HOUR + H)
    )
    assert len(first) == len(results) and first == second
    assert [row["column_name"] for row in first] == columns


def test_details_shared_by_several_windows_store_each_result_own(engine) -> None:
    """Windows holding the same merged profile share measurements, so their tables share
    detail objects (serialized once per write): every row still stores its own result's detail,
    the same rows as the results given one by one as ``DriftResult`` objects."""
    shared, other = {"distance": 0.5, "new_values": [1.5]}, {"mean_shift": -0.25}
    details = [[shared, {}, other], [shared, {"min_rows": 30}, other], [{}, shared, shared]]
    tables = []
    for detail in details:
        results = [DriftResult("psi", 0.1 * i, None, 0.1, "stable", False, 5, 6) for i in range(3)]
        fields = [[getattr(r, name) for r in results] for name in FIELDS]
        fields[FIELDS.index("detail")] = detail
        tables.append(ResultTable(["a", "b", "c"], ["a", "b", "c"], *fields))
    for deployment, given in (("shared_model", tables), ("single_model", map(dict, tables))):
        windows = [
            DriftWindow(deployment, HOUR + i * H, HOUR + (i + 1) * H, "hour", table)
            for i, table in enumerate(given)
        ]
        write_drift_windows(engine, windows)
    ignored = {"id", "deployment_id", "computed_at"}
    shared_rows, single_rows = (
        [
            {k: v for k, v in row.items() if k not in ignored}
            for row in read_drift_scores(engine, deployment, HOUR, HOUR + 3 * H)
        ]
        for deployment in ("shared_model", "single_model")
    )
    assert shared_rows == single_rows and len(shared_rows) == 9
    assert [row["detail"] for row in shared_rows] == [
        d if d else None for detail in details for d in detail
    ]
