"""Rolled-up windows: bounds per granularity, and a day's score equals the score of its raw rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import score_column
from monitoring_pipelines.stats.metrics.registry import METRICS
from monitoring_pipelines.stats.windows import merge_window, roll_up, window_bounds

RNG = np.random.default_rng(9)
KINDS = {"x": "numerical", "c": "categorical"}
START = datetime(2026, 11, 2, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def _hour(n: int, drift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": RNG.normal(drift, 1, n), "c": RNG.choice(["a", "b", "new" if drift else "a"], n)}
    )


def test_window_bounds():
    moment = datetime(2026, 11, 4, 13, tzinfo=UTC)  # Wednesday
    assert window_bounds(moment, "hour") == (moment, moment + H)
    assert window_bounds(moment, "trailing_24h") == (moment - 23 * H, moment + H)
    assert window_bounds(moment, "day") == (moment.replace(hour=0), moment.replace(hour=0) + 24 * H)
    assert window_bounds(moment, "week") == (START, START + timedelta(days=7))
    with pytest.raises(ValueError, match="valid: hour, trailing_24h, day, week"):
        window_bounds(moment, "month")
    with pytest.raises(ValueError, match="timezone-aware"):
        window_bounds(datetime(2026, 11, 4, 13), "hour")
    with pytest.raises(ValueError, match="on the hour"):
        window_bounds(moment + timedelta(minutes=5), "hour")


def test_daily_score_equals_the_score_of_the_concatenated_raw_rows():
    baseline = fit_baseline(_hour(5_000, 0.0), KINDS)
    frames = {START + i * H: _hour(int(RNG.integers(0, 60)), 0.3 * (i >= 40)) for i in range(48)}
    hourly = {hour: profile_frame(frame, baseline) for hour, frame in frames.items()}
    days = roll_up(hourly, "day")
    assert list(days) == [START, START + 24 * H]
    second_day = pd.concat([f for h, f in frames.items() if h >= START + 24 * H], ignore_index=True)
    direct = profile_frame(second_day, baseline)
    assert days[START + 24 * H].row_count == len(second_day)
    for metric, spec in METRICS.items():
        for column in KINDS:
            if baseline.columns[column].kind not in spec.kinds:
                continue
            rolled = score_column(
                metric, baseline.columns[column], days[START + 24 * H].columns[column]
            )
            raw = score_column(metric, baseline.columns[column], direct.columns[column])
            if raw.value is None:  # e.g. two_proportion_z on a column with more values
                assert rolled.value is None and rolled.status == raw.status == "undefined"
                continue
            assert rolled.value == pytest.approx(raw.value, rel=1e-9, abs=1e-12), (metric, column)
            assert rolled.status == raw.status


def test_trailing_and_weekly_windows_merge_the_right_hours():
    baseline = fit_baseline(_hour(1_000, 0.0), KINDS)
    hourly = {START + i * H: profile_frame(_hour(10, 0.0), baseline) for i in range(30)}
    trailing = roll_up(hourly, "trailing_24h")
    assert trailing[START - 23 * H].row_count == 10
    assert trailing[START + 6 * H].row_count == 240
    assert roll_up(hourly, "week")[START].row_count == 300
    assert merge_window(hourly, START + 100 * H, START + 101 * H) is None
