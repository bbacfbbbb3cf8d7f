"""Rows accounted for in a SQL log table, on the real PostgreSQL: repeated request ids are
counted in SQL by the push-down exactly as the row path counts them (text, float with NaN,
±inf and NULL, and integer ids; repeats across the time slices), the table's rows without a
timestamp are counted per deployment, and a range query loses no row (0, not unknown)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from monitoring_pipelines.sources.sql import IN_RANGE_COUNTS, SqlLogSource
from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.stats.duplicates import DuplicateCounter
from tests.conftest import postgres_schema

pytestmark = pytest.mark.postgres

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROWS = 2000
IDS = ("rid", "fid", "iid")


def _hour(rng: np.random.Generator, n: int, deployment: str, start: datetime) -> pd.DataFrame:
    x = rng.normal(0, 1, n)
    x[::13] = np.nan
    x[1::17] = np.inf
    x[2::19] = -np.inf
    rid = pd.Series([f"r{i}" for i in rng.integers(0, int(n * 0.8), n)], dtype=object)
    rid[::11] = None
    rid[1::29] = ""  # an empty id is an id
    fid = pd.Series(rng.integers(0, int(n * 0.7), n).astype(float), dtype=object)
    fid[::7] = np.nan  # NaN: missing for pandas, so not a repeat
    fid[1::31] = np.inf
    fid[2::37] = -np.inf
    fid[3::41] = None
    fid[4::43] = 0.5
    iid = pd.Series(rng.integers(0, int(n * 0.9), n), dtype=object)
    iid[::23] = None
    seconds = rng.uniform(0, 3600, n)
    seconds[:4] = [0.0, 1799.999, 1800.0, 3599.999]  # on the slice bounds
    return pd.DataFrame(
        {
            "scored_at": [start + timedelta(seconds=float(s)) for s in seconds],
            "deployment": deployment,
            "x": x,
            "segment": rng.choice(["a", "b", "c"], n),
            "rid": rid,
            "fid": fid,
            "iid": iid,
        }
    )


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(11)
    mine = _hour(rng, ROWS, "mine", T0)
    # the same ids repeated in the next hour do not repeat within this hour
    after = _hour(rng, 300, "mine", T0 + HOUR).assign(rid=mine["rid"].iloc[:300].to_numpy())
    other = _hour(rng, 400, "other", T0)
    unstamped = _hour(rng, 37, "mine", T0).assign(scored_at=None)
    unstamped_other = _hour(rng, 5, "other", T0).assign(scored_at=None)
    frame = pd.concat([mine, after, other, unstamped, unstamped_other], ignore_index=True)
    with postgres_schema("mp_sql_accounting") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE logs (scored_at timestamptz, deployment text, x float8, "
                    "segment text, rid text, fid float8, iid bigint)"
                )
            )
            nan = frame.map(lambda v: isinstance(v, float) and math.isnan(v))
            records = frame.astype(object).where(frame.notna() | nan, None)
            conn.execute(
                text(
                    "INSERT INTO logs VALUES (:scored_at, :deployment, :x, :segment, :rid, "
                    ":fid, :iid)"
                ),
                records.to_dict("records"),
            )
        engine.dispose()
        yield url, mine


def _baseline():
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 500), "segment": rng.choice(["a", "b"], 500)})
    return fit_baseline(reference, {"x": "numerical", "segment": "categorical"}, n_bins=8)


def _source(url: str, **options) -> SqlLogSource:
    return SqlLogSource(url, "logs", "scored_at", "deployment", "mine", **options)


def _repeats(ids: pd.Series) -> int:
    """Independently: present ids (None and NaN are missing) minus distinct ones."""
    present = ids[ids.map(lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)))]
    return len(present) - len(set(present))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("column", IDS)
def test_pushed_down_repeats_equal_the_row_path_and_an_independent_count(table, column, workers):
    url, mine = table
    expected = _repeats(mine[column])
    assert expected > 50  # the fixture has repeats to count
    source = _source(url, pushdown_workers=workers)
    profile = source.profile_window(T0, T0 + HOUR, _baseline(), request_id=column)
    assert profile.row_count == ROWS
    pushed = source.dropped_rows()
    counter = DuplicateCounter(column)
    rows = _source(url, pushdown=False)
    for _ in counter.observe(rows.read_window(T0, T0 + HOUR, ["x", column])):
        pass
    assert counter.duplicates() == expected
    assert pushed == dict.fromkeys(IN_RANGE_COUNTS, 0) | {"duplicate_request_ids": expected}
    assert rows.dropped_rows() == dict.fromkeys(IN_RANGE_COUNTS, 0)


def test_without_a_request_id_no_repeats_are_claimed(table):
    url, _ = table
    source = _source(url)
    source.profile_window(T0, T0 + HOUR, _baseline())
    assert source.dropped_rows() == dict.fromkeys(IN_RANGE_COUNTS, 0)  # duplicates: unknown
    source.profile_window(T0, T0 + HOUR, _baseline(), request_id="no_such_column")
    assert source.dropped_rows()["duplicate_request_ids"] == 0  # as the row path: no ids read


def test_unstamped_rows_are_counted_per_deployment(table):
    url, _ = table
    assert _source(url).unstamped_rows() == 37
    assert SqlLogSource(url, "logs", "scored_at", "deployment", "other").unstamped_rows() == 5
    assert SqlLogSource(url, "logs", "scored_at").unstamped_rows() == 42
