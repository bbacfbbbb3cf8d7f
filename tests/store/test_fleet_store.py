"""Issue 15, item 5: the store reads of a run's deployments in one query each and writes many
drift windows in one transaction, on SQLite and PostgreSQL, with the per-window semantics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert, select

from monitoring_pipelines.stats.calibration import NoiseCurve
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import DriftResult, score
from monitoring_pipelines.store import bulk
from monitoring_pipelines.store.aggregates import (
    PROFILE_COLUMNS,
    read_baseline,
    read_baselines,
    read_fleet_windows,
    read_windows,
    write_profile,
)
from monitoring_pipelines.store.bulk import insert_rows, insert_tuples, select_rows
from monitoring_pipelines.store.calibration import (
    read_calibration,
    read_calibrations,
    write_calibration,
)
from monitoring_pipelines.store.drift import (
    DriftWindow,
    _json_safe,
    _json_text,
    read_drift_scores,
    write_drift_scores,
    write_drift_windows,
)
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates, drift_scores, written_windows
from monitoring_pipelines.store.times import utc

HOUR = datetime(2026, 11, 3, 5, tzinfo=UTC)
H = timedelta(hours=1)
RNG = np.random.default_rng(15)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return get_engine(request.getfixturevalue("postgres_url"))


def _names(n: int) -> list[str]:
    return [f"f{RNG.integers(1 << 30)}_{i}" for i in range(n)]


def _statements(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, s, *a: seen.append(s))
    return seen


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": RNG.normal(size=n), "c": RNG.choice(["a", "b", "c"], n)})


def test_fleet_reads_equal_the_per_deployment_reads_in_one_query_each(engine) -> None:
    kinds = {"x": "numerical", "c": "categorical"}
    deployments = _names(3)
    for d in deployments:
        baseline = fit_baseline(_frame(500), kinds, n_bins=8)
        write_profile(engine, d, HOUR, baseline, is_baseline=True)
        for k in range(3):
            start = HOUR + k * H
            window = profile_frame(_frame(100 + k), baseline)
            write_profile(engine, d, start, window, is_baseline=False, window_end=start + H)
        curve = NoiseCurve(sizes=(100.0, 1000.0), means=(0.1, 0.02), stds=(0.01, 0.004))
        write_calibration(engine, d, {"x": {"psi": curve}})
    seen = _statements(engine)
    baselines = read_baselines(engine, [*deployments, "never_fitted"])
    ranges = {
        d: (HOUR + (i % 2) * H, HOUR + 3 * H, baselines[d]) for i, d in enumerate(deployments)
    }
    windows = read_fleet_windows(engine, ranges)
    calibrations = read_calibrations(engine, deployments)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 3
    assert set(baselines) == set(deployments)
    for d, (start, end, _) in ranges.items():
        one = read_baseline(engine, d)
        assert [(n, p.count) for n, p in one.columns.items()] == [
            (n, p.count) for n, p in baselines[d].columns.items()
        ]
        assert np.array_equal(one.columns["x"].edges, baselines[d].columns["x"].edges)
        expected = read_windows(engine, d, start, end, one)
        assert (
            sorted(windows[d]) == sorted(expected) == [start + k * H for k in range(len(expected))]
        )
        for moment, profile in expected.items():
            got = windows[d][moment]
            assert got.row_count == profile.row_count
            assert got.columns["c"].counts == profile.columns["c"].counts
            assert np.array_equal(got.columns["x"].counts, profile.columns["x"].counts)
        assert calibrations[d] == read_calibration(engine, d)


def _scores(shift: float) -> dict[str, tuple[DriftResult, ...]]:
    reference = RNG.normal(size=800)
    current = RNG.normal(shift, 1.0, 400)
    return {"x": (score("psi", reference, current), score("wasserstein", reference, current))}


def _stored(engine, deployment: str) -> list[tuple]:
    rows = read_drift_scores(engine, deployment, HOUR - 24 * H, HOUR + 48 * H)
    return sorted(
        (
            r["granularity"],
            r["window_start"],
            r["window_end"],
            r["column_name"],
            r["metric"],
            r["value"],
            r["status"],
            r["drifted"],
            r["current_size"],
        )
        for r in rows
    )


def _seqs(engine, deployment: str) -> dict[tuple, tuple[int, int]]:
    c = written_windows.c
    query = select(c.granularity, c.window_start, c.commit_seq, c.version).where(
        c.deployment_id == deployment, c.source == "drift_scores"
    )
    with engine.connect() as conn:
        return {(g, s.replace(tzinfo=None)): (q, v) for g, s, q, v in conn.execute(query)}


def test_many_windows_in_one_transaction_equal_window_by_window_writes(engine) -> None:
    one, many = _names(2)
    windows = [
        ("hour", HOUR, HOUR + H, _scores(0.0)),
        ("trailing_24h", HOUR - 23 * H, HOUR + H, _scores(0.5)),
        ("day", HOUR - 5 * H, HOUR + 19 * H, _scores(1.0)),
    ]
    for granularity, start, end, scores in windows:
        write_drift_scores(engine, one, start, end, granularity, scores)
    seen = _statements(engine)
    batch = [DriftWindow(many, start, end, g, scores) for g, start, end, scores in windows]
    assert write_drift_windows(engine, batch) == 6
    assert sum("INSERT INTO drift_scores" in s for s in seen) == 1  # one statement, every row
    assert [row[:1] + row[3:] for row in _stored(engine, many)] == [
        row[:1] + row[3:] for row in _stored(engine, one)
    ]
    first = _seqs(engine, many)
    seqs = [first[(g, utc_naive(s))][0] for g, s, _, _ in windows]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # consecutive, in the given order
    assert {v for _, v in first.values()} == {1}

    rewrite = [DriftWindow(many, HOUR, HOUR + H, "hour", _scores(3.0)), batch[2]]
    assert write_drift_windows(engine, rewrite) == 4
    again = _seqs(engine, many)
    assert again[("hour", utc_naive(HOUR))][1] == 2 and again[("hour", utc_naive(HOUR))][0] > max(
        seqs
    )
    assert (
        again[("trailing_24h", utc_naive(HOUR - 23 * H))]
        == first[("trailing_24h", utc_naive(HOUR - 23 * H))]
    )
    hour_rows = [r for r in _stored(engine, many) if r[0] == "hour"]
    assert len(hour_rows) == 2 and all(r[7] for r in hour_rows)  # replaced: shift 3 drifts


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def test_a_failing_window_leaves_every_window_of_the_write_as_it_was(engine) -> None:
    [deployment] = _names(1)
    write_drift_scores(engine, deployment, HOUR, HOUR + H, "hour", _scores(0.0))
    before, seqs = _stored(engine, deployment), _seqs(engine, deployment)
    broken = DriftResult("psi", 0.1, None, 0.1, None, False, 10, 10)  # status is NOT NULL
    with pytest.raises(Exception, match=r"(?i)null"):
        write_drift_windows(
            engine,
            [
                DriftWindow(deployment, HOUR, HOUR + H, "hour", _scores(2.0)),
                DriftWindow(deployment, HOUR + H, HOUR + 2 * H, "hour", {"x": (broken,)}),
            ],
        )
    assert _stored(engine, deployment) == before and _seqs(engine, deployment) == seqs


def test_a_window_given_twice_is_refused(sqlite_engine) -> None:
    twice = [DriftWindow("model_a", HOUR, HOUR + H, "hour", _scores(0.0))] * 2
    with pytest.raises(ValueError, match="given twice"):
        write_drift_windows(sqlite_engine, twice)


@pytest.mark.parametrize("per_statement", [200, 7, 1])
def test_bulk_insert_stores_what_sqlalchemy_stores(sqlite_engine, monkeypatch, per_statement):
    """Rows through ``insert_rows`` (several rows per INSERT statement on SQLite, a shorter
    statement for the rest) store SQLAlchemy's own rows, raw text for raw text, in the given
    order: ids follow the rows."""
    monkeypatch.setattr(bulk, "ROWS_PER_STATEMENT", per_statement)
    now = datetime.now(UTC)
    rows = [
        {
            "deployment_id": f"bulk_{way}",
            "window_start": HOUR + (i % 3) * H,
            "window_end": HOUR + (i % 3 + 1) * H,
            "granularity": "hour",
            "reference": "training",
            "column_name": f"c{i}",
            "metric": "psi",
            "value": None if i % 5 == 0 else i / 7,
            "p_value": 0.5 if i % 2 else None,
            "threshold": 0.1,
            "status": "stable",
            "drifted": bool(i % 3),
            "reference_size": 1000 + i,
            "current_size": i,
            "detail": {"error_bound": i / 3, "new_values": [1.5, 2.0]} if i % 4 else None,
            "computed_at": now,
        }
        for way in ("sqlalchemy", "bulk")
        for i in range(30)
    ]
    with sqlite_engine.begin() as conn:
        conn.execute(insert(drift_scores), rows[:30])
        insert_rows(conn, drift_scores, rows[30:])
        stored = conn.exec_driver_sql(
            "SELECT * FROM drift_scores WHERE deployment_id LIKE 'bulk_%' ORDER BY id"
        ).all()
    ours = [tuple(r)[1:] for r in stored if r[1] == "bulk_bulk"]
    theirs = [tuple(r)[1:] for r in stored if r[1] == "bulk_sqlalchemy"]
    assert len(ours) == len(theirs) == 30
    assert [r[1:] for r in ours] == [r[1:] for r in theirs]  # raw stored text, id and name aside
    mine = [r for r in stored if r.deployment_id == "bulk_bulk"]
    assert [r.id for r in mine] == list(range(mine[0].id, mine[0].id + 30))
    assert [r.column_name for r in mine] == [f"c{i}" for i in range(30)]  # ids in row order


_plain_values = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**20), 10**20)
    | st.booleans()
    | st.none()
    | st.text(max_size=8)
)
_details = st.dictionaries(
    st.text(max_size=8), _plain_values | st.lists(_plain_values, max_size=3), max_size=6
) | st.dictionaries(st.text(max_size=4), _plain_values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(_details)
def test_detail_text_is_what_json_dumps_writes(detail) -> None:
    """The drift writer's own JSON text of a detail equals json.dumps of its JSON-safe form
    (non-finite floats as null), whatever it holds: unicode keys, NaN, ±inf, lists, bools."""
    expected = json.dumps(_json_safe(detail)) if detail else None
    assert _json_text(detail) == expected
    numpy_valued = {key: np.float64(v) for key, v in detail.items() if type(v) is float}
    assert _json_text(numpy_valued) == (
        json.dumps(_json_safe(numpy_valued)) if numpy_valued else None
    )


def test_tuples_with_json_text_store_what_sqlalchemy_stores(engine) -> None:
    """Rows inserted as tuples, details as pre-serialized JSON text, read back exactly as rows
    inserted through SQLAlchemy with the details as dicts (on PostgreSQL the text is parsed
    back for SQLAlchemy's own serializer)."""
    ours, theirs = _names(2)
    now = datetime.now(UTC)
    names = ("deployment_id", "window_start", "window_end", "granularity", "column_name")
    names += ("metric", "value", "status", "drifted", "reference_size", "current_size")
    names += ("detail", "computed_at")
    details = [{"mean_shift": -0.25}, {"x": [1.5, None], "é": "ü"}, None, {"e": float("inf")}]

    def row(deployment: str, i: int, as_text: bool) -> tuple:
        detail = details[i % len(details)]
        stored = _json_text(detail) if as_text else (_json_safe(detail) if detail else None)
        start = (deployment, HOUR, HOUR + H, "hour", f"c{i}", "psi", i / 3, "stable")
        return (*start, bool(i % 2), 100, i, stored, now)

    with engine.begin() as conn:
        conn.execute(
            insert(drift_scores),
            [dict(zip(names, row(theirs, i, False), strict=True)) for i in range(8)],
        )
        insert_tuples(conn, drift_scores, names, [row(ours, i, True) for i in range(8)])
    c = drift_scores.c
    query = select(*(c[n] for n in names[1:])).order_by(c.column_name)
    with engine.connect() as conn:
        got = [conn.execute(query.where(c.deployment_id == d)).all() for d in (ours, theirs)]
    assert got[0] == got[1] and len(got[0]) == 8
    assert {r.detail.get("mean_shift") for r in got[0] if r.detail} == {-0.25, None}


def test_select_rows_reads_what_sqlalchemy_reads(engine) -> None:
    """Rows read with each column's result processor applied once per distinct stored value
    equal SQLAlchemy's own rows: JSON arrays and dicts (repeated and not), NULLs, timestamps,
    booleans, in the query's order; on SQLite equal stored texts decode to one object."""
    ours = _names(1)[0]
    edges = [-np.inf, -1.5, 0.0, 2.25, np.inf]
    rows = [
        {
            "deployment_id": ours,
            "timestamp": HOUR + (i % 2) * H,
            "window_end": None if i % 3 else HOUR + 2 * H,
            "column_name": f"c{i}",
            "is_baseline": False,
            "is_response": bool(i % 2),
            "logical_type": 1 if i % 4 else 2,
            "bin_edges": edges if i % 4 else None,
            "bin_counts": [i, 2 * i, 0, 5] if i % 4 else None,
            "value_counts": None if i % 4 else {"a": i, "é": 3},
            "missing_counts": i,
            "count": 10 * i,
            "mean": None if i == 3 else i / 7,
            "row_count": 100,
            "computed_at": HOUR,
        }
        for i in range(12)
    ]
    query = (
        select(*PROFILE_COLUMNS, aggregates.c.is_response, aggregates.c.window_end)
        .where(aggregates.c.deployment_id == ours)
        .order_by(aggregates.c.column_name.desc())
    )
    with engine.begin() as conn:  # rolled back: the PostgreSQL schema is shared by the session
        conn.execute(insert(aggregates), rows)
        theirs = [dict(row) for row in conn.execute(query).mappings()]
        got = select_rows(conn, query)
        assert select_rows(conn, query.where(aggregates.c.count < 0)) == []
        conn.rollback()
    assert got == theirs and len(got) == 12
    assert [r["column_name"] for r in got] == sorted((f"c{i}" for i in range(12)), reverse=True)
    assert {type(r["is_response"]) for r in got} == {bool}
    assert utc(got[-1]["timestamp"]) == HOUR and got[-1]["bin_edges"] is None
    numerical = [r["bin_edges"] for r in got if r["bin_edges"] is not None]
    assert numerical[0] == edges
    if engine.dialect.name == "sqlite":
        assert all(e is numerical[0] for e in numerical)
