"""Issue 14, item 2: reserved names cannot collide with user values, on SQLite and the real
PostgreSQL: a category literally named ``__other__`` (and names that look like it) keeps its
own count in the baseline and in hours, apart from the count folded past the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.store.aggregates import read_baseline, read_windows, write_profile
from monitoring_pipelines.store.engine import get_engine

HOUR = datetime(2026, 11, 3, 12, tzinfo=UTC)


def test_a_category_named_other_and_discrete_values_survive_the_store(empty_store_url):
    """Before: a user category ``__other__`` kept its name but lost its count to the folded
    count; the folded count now has its own column, in the baseline and in hours."""
    names = ["__other__", "__other", "__OTHER__", " __other__", "other"]
    reference = pd.DataFrame(
        {
            "c": ["a"] * 40 + ["__other__"] * 30 + names * 4 + [f"rare{i}" for i in range(6)],
            "t": [12.0, 24.0, 36.0] * 27 + [60.0] * 15,
        }
    )
    baseline = fit_baseline(reference, {"c": "categorical", "t": "numerical"}, max_categories=3)
    assert baseline.columns["c"].counts["__other__"] == 34 and baseline.columns["c"].other > 0
    current = pd.DataFrame(
        {
            "c": ["__other__"] * 7 + ["a"] * 3 + ["new1", "new2", "new3", "new4", "__other"],
            "t": [12.0] * 5 + [48.0] * 6 + [np.nan] * 2 + [60.0, -np.inf],
        }
    )
    window = profile_frame(current, baseline)
    engine = get_engine(empty_store_url)
    write_profile(engine, "folded_names", HOUR, baseline, is_baseline=True)
    write_profile(engine, "folded_names", HOUR, window, is_baseline=False)
    stored = read_baseline(engine, "folded_names")
    [hour] = read_windows(engine, "folded_names", HOUR, HOUR + timedelta(hours=1), stored).values()
    for got, want in ((stored, baseline), (hour, window)):
        c, t = got.columns["c"], got.columns["t"]
        assert c.counts == want.columns["c"].counts and c.other == want.columns["c"].other
        assert t.values == want.columns["t"].values and t.other == want.columns["t"].other
    assert hour.columns["c"].counts["__other__"] == 7
    assert hour.columns["c"].count == 15 and hour.columns["t"].new_values == [48.0]
    merged = hour.columns["c"].merge(hour.columns["c"])
    assert merged.counts["__other__"] == 14 and merged.other == 2 * window.columns["c"].other
