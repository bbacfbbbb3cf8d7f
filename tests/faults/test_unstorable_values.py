"""Issue 14, item 6: category values PostgreSQL cannot store are replaced, the same way on
both databases, and counted.

Before: a NUL character in a category value failed the hour on PostgreSQL (``\\u0000 cannot
be converted to text``) while the same hour worked on SQLite; a lone surrogate has no UTF-8
form and failed on both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import select

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import profile_categorical, storable
from monitoring_pipelines.store.aggregates import read_baseline, read_windows, write_profile
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates

T0 = datetime(2026, 11, 2, tzinfo=UTC)
NUL, SURROGATE, FFFD = "\x00", "\ud800", "\ufffd"


def test_nul_and_surrogates_become_u_fffd_and_are_counted():
    values = pd.Series(
        ["ok", f"a{NUL}b", f"a{NUL}b", f"x{SURROGATE}", f"a{FFFD}b", None], dtype=object
    )  # a surrogate has no Arrow string: such values come as objects (JSON events)
    profile = profile_categorical(values)
    # "a\x00b" and the user's own "a\ufffdb" are one key now: counts add, nothing is lost
    assert profile.counts == {"ok": 1, f"a{FFFD}b": 3, f"x{FFFD}": 1}
    assert profile.replaced == 3 and profile.missing == 1
    assert storable(f"{NUL}{SURROGATE}\udfff ok") == f"{FFFD * 3} ok"
    # dictionary-encoded columns (what Parquet gives) take the same path
    nul_only = values[values.map(lambda v: v is None or SURROGATE not in v)]
    encoded = profile_categorical(nul_only.astype("category"))
    assert encoded.counts == {"ok": 1, f"a{FFFD}b": 3} and encoded.replaced == 2


def test_an_hour_with_nul_values_is_stored_alike_on_sqlite_and_postgresql(empty_store_url):
    engine = get_engine(empty_store_url)
    reference = pd.DataFrame({"segment": ["retail", f"s{NUL}me"] * 50})
    baseline = fit_baseline(reference, {"segment": "categorical"})
    write_profile(engine, "m", T0, baseline, is_baseline=True)
    stored_baseline = read_baseline(engine, "m")
    assert stored_baseline.columns["segment"].counts == {"retail": 50, f"s{FFFD}me": 50}

    hour = pd.DataFrame({"segment": [f"s{NUL}me", f"s{NUL}me", "retail", f"new{NUL}"]})
    profile = profile_frame(hour, stored_baseline)
    write_profile(engine, "m", T0, profile, is_baseline=False, window_end=T0 + timedelta(hours=1))

    window = read_windows(engine, "m", T0, T0 + timedelta(hours=1), stored_baseline)[T0]
    segment = window.columns["segment"]
    # the NUL spelling of a baseline category is that category, not a new one
    assert segment.counts == {"retail": 1, f"s{FFFD}me": 2, f"new{FFFD}": 1}
    assert segment.new_categories == [f"new{FFFD}"]
    assert segment.replaced == 3
    with engine.connect() as conn:
        stored = conn.execute(
            select(aggregates.c.is_baseline, aggregates.c.replaced_values).order_by(
                aggregates.c.is_baseline
            )
        ).all()
    assert [tuple(r) for r in stored] == [(False, 3), (True, 50)]
