"""Labels read by arrival time from a Parquet folder or file and from a SQL table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine

from monitoring_pipelines.sources.labels import ParquetLabelSource, SqlLabelSource
from monitoring_pipelines.sources.sql import SqlLogSource

T0 = datetime(2026, 11, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


def labels_frame(n: int = 1_000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "rid": [f"r{i}" for i in range(n)],
            "y": rng.choice(["0", "1"], size=n),
            "labelled_at": pd.to_datetime(T0)
            + pd.to_timedelta(rng.uniform(0, 72, n), unit="h").floor("us"),
            "extra": rng.normal(size=n),
        }
    )


def expected(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    kept = frame[(frame.labelled_at >= start) & (frame.labelled_at < end)]
    return kept.rename(columns={"rid": "request_id", "y": "label", "labelled_at": "arrived_at"})[
        ["request_id", "label", "arrived_at"]
    ]


def collected(chunks) -> pd.DataFrame:
    frames = list(chunks)
    return pd.concat(frames).sort_values("request_id", ignore_index=True) if frames else None


@pytest.mark.parametrize("layout", ["folder", "file"])
def test_parquet_window_by_arrival_in_chunks(tmp_path, layout):
    frame = labels_frame()
    if layout == "folder":
        for day, part in frame.groupby(frame.labelled_at.dt.strftime("%Y-%m-%d")):
            folder = tmp_path / "labels" / f"date={day}"
            folder.mkdir(parents=True)
            pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / "a.parquet")
        path = tmp_path / "labels"
    else:
        path = tmp_path / "labels.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    source = ParquetLabelSource(path, "rid", "y", "labelled_at", chunk_rows=50)
    start, end = T0 + 5 * HOUR, T0 + 40 * HOUR
    chunks = list(source.read_arrived(start, end))
    assert max(len(c) for c in chunks) <= 50
    got = collected(chunks)
    want = expected(frame, start, end).sort_values("request_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert str(got.arrived_at.dt.tz) == "UTC"


def test_parquet_missing_folder_reads_nothing_and_bad_files_are_named(tmp_path):
    assert list(ParquetLabelSource(tmp_path / "none", "rid", "y", "t").read_arrived(T0, T0)) == []
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pandas(labels_frame(10)), path)
    with pytest.raises(ValueError, match=r"no column\(s\) \['label'\]"):
        next(ParquetLabelSource(path, "rid", "label", "labelled_at").read_arrived(T0, T0 + HOUR))
    with pytest.raises(ValueError, match="arrival column 'extra' has type double"):
        next(ParquetLabelSource(path, "rid", "y", "extra").read_arrived(T0, T0 + HOUR))


def test_sql_table_window_by_arrival(tmp_path):
    url = f"sqlite:///{tmp_path / 'labels.db'}"
    frame = labels_frame()
    frame.to_sql("ground_truth", create_engine(url), index=False)
    source = SqlLabelSource(
        SqlLogSource(url, "ground_truth", "labelled_at", pushdown=False), "rid", "y"
    )
    start, end = T0 + 10 * HOUR, T0 + 11 * HOUR
    got = collected(source.read_arrived(start, end))
    want = expected(frame, start, end).sort_values("request_id", ignore_index=True)
    assert len(want) > 5
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
