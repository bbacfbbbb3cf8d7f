"""ParquetLogSource: hive-layout round trip, chunk bounds, window filtering, empty hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitoring_pipelines.sources.base import BadLogFileError
from monitoring_pipelines.sources.parquet import ParquetLogSource, _overlapping, hour_folder
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks, profile_frame

T0 = datetime(2025, 3, 1, 22, tzinfo=UTC)
HOUR = timedelta(hours=1)


def write_hours(root: Path, hours: int, rows: int, files_per_hour: int = 2) -> pd.DataFrame:
    """Write ``hours`` hours of rows (split over several files) and return everything written."""
    rng = np.random.default_rng(1)
    frames = []
    for h in range(hours):
        start = T0 + h * HOUR
        offsets = np.sort(rng.integers(0, 3_600_000_000, rows))
        frame = pd.DataFrame(
            {
                "ts": pd.to_datetime(start) + pd.to_timedelta(offsets, unit="us"),
                "x": rng.normal(size=rows),
                "cat": rng.choice(["a", "b", "c"], rows),
                "row": np.arange(rows) + h * rows,
            }
        )
        folder = hour_folder(root, start)
        folder.mkdir(parents=True)
        for i, part in enumerate(np.array_split(np.arange(rows), files_per_hour)):
            piece = frame.iloc[part]
            pq.write_table(
                pa.Table.from_pandas(piece, preserve_index=False),
                folder / f"part-{i:05d}.parquet",
                row_group_size=97,
            )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_all(source: ParquetLogSource, start, end, columns=None) -> list[pd.DataFrame]:
    return list(source.read_window(start, end, columns))


def test_one_hour_round_trip_in_bounded_chunks(tmp_path):
    written = write_hours(tmp_path, hours=3, rows=1000)
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=128)
    chunks = read_all(source, T0 + HOUR, T0 + 2 * HOUR)
    assert len(chunks) > 2
    assert max(len(c) for c in chunks) <= 128
    got = pd.concat(chunks, ignore_index=True).sort_values("row", ignore_index=True)
    want = written[(written.ts >= T0 + HOUR) & (written.ts < T0 + 2 * HOUR)]
    strings = [c for c in got.columns if isinstance(got[c].dtype, pd.CategoricalDtype)]
    assert strings and all(pd.api.types.is_string_dtype(want[c]) for c in strings)
    got = got.astype({c: want[c].dtype for c in strings})  # read dictionary-encoded
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_dtype=False)
    assert str(got.ts.dt.tz) == "UTC"
    assert got["x"].dtype == np.float64


def test_hour_crosses_midnight_folder_names(tmp_path):
    write_hours(tmp_path, hours=3, rows=10)
    assert (tmp_path / "date=2025-03-01" / "hour=23").is_dir()
    assert (tmp_path / "date=2025-03-02" / "hour=00").is_dir()


def test_missing_hour_yields_nothing(tmp_path):
    write_hours(tmp_path, hours=2, rows=50)
    source = ParquetLogSource(tmp_path, "ts")
    assert read_all(source, T0 + 5 * HOUR, T0 + 6 * HOUR) == []


def test_a_missing_logs_folder_is_an_error_naming_it(tmp_path):
    """A typo in logs.path must not read as hours without data (issue 14, item 5)."""
    with pytest.raises(BadLogFileError, match=r"nowhere: logs\.path is not a directory"):
        read_all(ParquetLogSource(tmp_path / "nowhere", "ts"), T0, T0 + HOUR)


def test_available_hours(tmp_path):
    write_hours(tmp_path, hours=2, rows=5)
    source = ParquetLogSource(tmp_path, "ts")
    assert source.available_hours(T0 - HOUR, T0 + 4 * HOUR) == [T0, T0 + HOUR]


def test_partial_window_filters_rows(tmp_path):
    written = write_hours(tmp_path, hours=2, rows=400)
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=64)
    start, end = T0 + timedelta(minutes=20), T0 + timedelta(minutes=75)
    got = pd.concat(read_all(source, start, end), ignore_index=True)
    want = written[(written.ts >= start) & (written.ts < end)]
    assert sorted(got.row) == sorted(want.row)
    assert got.ts.min() >= start and got.ts.max() < end


def test_rows_outside_their_folder_hour_are_dropped(tmp_path):
    folder = hour_folder(tmp_path, T0)
    folder.mkdir(parents=True)
    stamps = [T0 - timedelta(seconds=1), T0, T0 + timedelta(minutes=59), T0 + HOUR, None]
    frame = pd.DataFrame({"ts": pd.to_datetime(stamps, utc=True), "row": range(5)})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "a.parquet")
    got = pd.concat(read_all(ParquetLogSource(tmp_path, "ts"), T0, T0 + HOUR))
    assert list(got.row) == [1, 2]


def test_naive_timestamps_are_read_as_utc(tmp_path):
    folder = hour_folder(tmp_path, T0)
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"ts": [datetime(2025, 3, 1, 22, 30)], "v": [1.0]})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "a.parquet")
    (got,) = read_all(ParquetLogSource(tmp_path, "ts"), T0, T0 + HOUR)
    assert got.ts.iloc[0] == pd.Timestamp("2025-03-01 22:30", tz="UTC")


def test_column_selection(tmp_path):
    write_hours(tmp_path, hours=1, rows=20)
    source = ParquetLogSource(tmp_path, "ts")
    chunks = read_all(source, T0, T0 + HOUR, columns=["x", "absent"])
    assert all(list(c.columns) == ["x"] for c in chunks)
    assert sum(len(c) for c in chunks) == 20


def test_errors_name_the_problem(tmp_path):
    write_hours(tmp_path, hours=1, rows=5)
    with pytest.raises(ValueError, match="'when'"):
        read_all(ParquetLogSource(tmp_path, "when"), T0, T0 + HOUR)
    with pytest.raises(ValueError, match=r"'x'.*expected a Parquet timestamp"):
        read_all(ParquetLogSource(tmp_path, "x"), T0, T0 + HOUR)
    with pytest.raises(ValueError, match="naive"):
        read_all(ParquetLogSource(tmp_path, "ts"), datetime(2025, 3, 1), T0)
    with pytest.raises(ValueError, match="before start"):
        read_all(ParquetLogSource(tmp_path, "ts"), T0 + HOUR, T0)
    with pytest.raises(ValueError, match="chunk_rows"):
        ParquetLogSource(tmp_path, "ts", chunk_rows=0)


def test_profile_of_dictionary_chunks_equals_the_profile_of_the_strings(tmp_path):
    written = write_hours(tmp_path, hours=2, rows=3000)
    baseline = fit_baseline(written.iloc[:500], {"x": "numerical", "cat": "categorical"})
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=500)
    chunks = read_all(source, T0, T0 + 2 * HOUR)
    assert all(isinstance(c["cat"].dtype, pd.CategoricalDtype) for c in chunks)
    ours = profile_chunks(iter(chunks), baseline)
    plain = profile_frame(written.astype({"cat": object}), baseline)
    assert ours.columns["cat"].counts == plain.columns["cat"].counts
    assert ours.columns["cat"].missing == plain.columns["cat"].missing
    np.testing.assert_array_equal(ours.columns["x"].counts, plain.columns["x"].counts)


def test_a_neighbouring_folder_is_read_only_where_its_statistics_overlap_the_window(tmp_path):
    """A misfiled row is read by its own hour; the neighbour's other row groups stay unread."""
    written = write_hours(tmp_path, hours=3, rows=970, files_per_hour=1)  # 10 row groups each
    late = written[written.ts < T0 + HOUR].tail(5).assign(ts=lambda f: f.ts + HOUR, row=-1)
    folder = hour_folder(tmp_path, T0)  # 22:00's folder gets 5 rows stamped 23:xx
    pq.write_table(pa.Table.from_pandas(late, preserve_index=False), folder / "late.parquet")
    source = ParquetLogSource(tmp_path, "ts")

    own = pq.ParquetFile(hour_folder(tmp_path, T0 + HOUR) / "part-00000.parquet").metadata
    # the hour after 23:00 (00:00) holds nothing of 23:00, so none of its groups is read
    neighbour = pq.ParquetFile(hour_folder(tmp_path, T0 + 2 * HOUR) / "part-00000.parquet")
    assert _overlapping(neighbour.metadata, "ts", T0 + HOUR, T0 + 2 * HOUR) == []
    assert _overlapping(own, "ts", T0 + HOUR, T0 + 2 * HOUR) == list(range(10))
    got = pd.concat(read_all(source, T0 + HOUR, T0 + 2 * HOUR))
    assert (got.row == -1).sum() == 5 and len(got) == 970 + 5
    assert source.dropped_rows() == {
        "rows_out_of_window": 0,
        "rows_null_timestamp": 0,
        "rows_misfiled": 0,
        "rows_from_neighbours": 5,
    }
    first = pd.concat(read_all(source, T0, T0 + HOUR))
    assert len(first) == 970 and (first.row != -1).all()
    assert source.dropped_rows()["rows_misfiled"] == 5  # 23:00 reads them, just above


def count_footer_reads(monkeypatch) -> list[Path]:
    """The paths whose footer pyarrow parses from now on (``pq.read_metadata``), in order."""
    parsed: list[Path] = []
    read_metadata = pq.read_metadata

    def counting(where, *args, **kwargs):
        parsed.append(Path(where))
        return read_metadata(where, *args, **kwargs)

    monkeypatch.setattr(pq, "read_metadata", counting)
    return parsed


def test_each_file_footer_is_parsed_once_while_hours_read_it_with_their_neighbours(
    tmp_path, monkeypatch
):
    written = write_hours(tmp_path, hours=4, rows=400)  # 2 files an hour
    parsed = count_footer_reads(monkeypatch)
    opened: list[Path] = []

    class Counted(pq.ParquetFile):
        def __init__(self, source, *args, **kwargs):
            opened.append(Path(source))
            super().__init__(source, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", Counted)
    source = ParquetLogSource(tmp_path, "ts")
    for hour in (1, 2):  # 1 reads hours 0-2, 2 reads hours 1-3: 12 file reads of 8 files
        start = T0 + hour * HOUR
        got = pd.concat(read_all(source, start, start + HOUR)).sort_values("row")
        expected = written[(written.ts >= start) & (written.ts < start + HOUR)]
        np.testing.assert_array_equal(got.row, expected.row)
    assert len(parsed) == len(set(parsed)) == 8
    # the neighbours' row groups all lie outside the window: only the own hours' files open
    own = [hour_folder(tmp_path, T0 + h * HOUR) for h in (1, 2)]
    assert sorted(opened) == sorted(f / f"part-{i:05d}.parquet" for f in own for i in (0, 1))


def test_a_rewritten_file_is_read_again_not_from_its_kept_footer(tmp_path, monkeypatch):
    write_hours(tmp_path, hours=1, rows=1000, files_per_hour=1)
    path = hour_folder(tmp_path, T0) / "part-00000.parquet"
    source = ParquetLogSource(tmp_path, "ts")
    assert len(pd.concat(read_all(source, T0, T0 + HOUR))) == 1000
    parsed = count_footer_reads(monkeypatch)
    assert len(pd.concat(read_all(source, T0, T0 + HOUR))) == 1000 and parsed == []

    rewritten = pd.DataFrame(  # other rows, other row groups, other dictionary
        {
            "ts": pd.to_datetime(T0) + pd.to_timedelta(np.arange(300), unit="s"),
            "x": np.arange(300.0),
            "cat": ["z"] * 300,
            "row": np.arange(300) + 5000,
        }
    )
    pq.write_table(pa.Table.from_pandas(rewritten), path, row_group_size=50)
    got = pd.concat(read_all(source, T0, T0 + HOUR), ignore_index=True)
    assert parsed == [path]
    np.testing.assert_array_equal(got.row, rewritten.row)
    np.testing.assert_array_equal(got.x, rewritten.x)
    assert list(got.cat.astype(str).unique()) == ["z"]
