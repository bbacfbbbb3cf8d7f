"""Windows merged together (``merge_windows``): each equals ``merge_window`` bit for bit, and
windows holding the same stored hours share one merged profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.profile import NumericalProfile
from monitoring_pipelines.stats.windows import merge_window, merge_windows, window_bounds

START = datetime(2026, 11, 2, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def _frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": rng.normal(shift, 1, n), "c": rng.choice(["a", "b", "new" if shift else "a"], n)}
    )


def _same(a, b) -> None:
    assert a.row_count == b.row_count and a.columns.keys() == b.columns.keys()
    for name, p in a.columns.items():
        q = b.columns[name]
        if isinstance(p, NumericalProfile):
            assert np.array_equal(p.counts, q.counts)
            moments = ("mean", "m2", "min", "max", "n_finite")
            assert [getattr(p, m) for m in moments] == [getattr(q, m) for m in moments]
        else:
            assert list(p.counts.items()) == list(q.counts.items()) and p.other == q.other


def test_windows_of_the_same_hours_are_merged_once_and_equal_merge_window() -> None:
    rng = np.random.default_rng(3)
    baseline = fit_baseline(_frame(500, rng, 0.0), {"x": "numerical", "c": "categorical"})
    hourly = {START + k * H: profile_frame(_frame(40 + k, rng, k / 5), baseline) for k in range(3)}
    hour = START + 2 * H
    bounds = [window_bounds(hour, g) for g in ("hour", "trailing_24h", "day", "week")]
    bounds.append((START + 10 * H, START + 12 * H))  # no stored hour
    merged = merge_windows(hourly, bounds)
    for (start, end), profile in zip(bounds[:4], merged[:4], strict=True):
        _same(merge_window(hourly, start, end), profile)
    assert merged[1] is merged[2] is merged[3]  # Monday 02:00: all three hold hours 0-2
    assert merged[0] is hourly[hour] and merged[4] is None
    with pytest.raises(ValueError, match="timezone-aware"):
        merge_windows(hourly, [(datetime(2026, 11, 2), datetime(2026, 11, 3))])
