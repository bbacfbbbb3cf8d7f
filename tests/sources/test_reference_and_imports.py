"""read_reference by suffix, clear errors, and the no-Dagster rule for sources/ and demo/."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.sources.base import hours_between, read_reference

FRAME = pd.DataFrame({"x": [1.5, np.nan, 3.0], "c": ["a", "b", None]})


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".CSV"])
def test_reference_round_trip(tmp_path, suffix):
    path = tmp_path / f"ref{suffix}"
    if suffix == ".parquet":
        FRAME.to_parquet(path)
    else:
        FRAME.to_csv(path, index=False)
    got = read_reference(path)
    np.testing.assert_allclose(got.x, FRAME.x, equal_nan=True)
    assert list(got.c.isna()) == [False, False, True]


def test_reference_errors(tmp_path):
    with pytest.raises(ValueError, match=r"'\.json'.*\.parquet, \.csv"):
        read_reference(tmp_path / "ref.json")
    with pytest.raises(FileNotFoundError, match=r"missing\.parquet"):
        read_reference(tmp_path / "missing.parquet")


def test_hours_between_covers_partial_hours():
    start = pd.Timestamp("2025-01-01 10:30", tz="UTC").to_pydatetime()
    end = pd.Timestamp("2025-01-01 12:00", tz="UTC").to_pydatetime()
    assert [h.hour for h in hours_between(start, end)] == [10, 11]
    assert hours_between(end, end) == []


def test_sources_and_demo_do_not_import_dagster():
    code = (
        "import sys, monitoring_pipelines.sources.parquet, monitoring_pipelines.sources.sql, "
        "monitoring_pipelines.demo.generate; assert 'dagster' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
