"""What a Parquet read holds at once: a row group whole only up to ``group_bytes`` decoded (by an
estimate that does not trust a dictionary-encoded number column's few bits a row in the file),
and batches of a larger row group without pyarrow holding its column chunks whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitoring_pipelines.sources.parquet import ParquetLogSource, decoded_bytes, hour_folder

HOUR = datetime(2026, 11, 4, 7, tzinfo=UTC)
END = HOUR + timedelta(hours=1)


def _write(root, table: pa.Table) -> str:
    folder = hour_folder(root, HOUR)
    folder.mkdir(parents=True)
    path = folder / "part-0.parquet"
    pq.write_table(table, path, row_group_size=table.num_rows)
    return str(path)


def _stamps(n: int) -> pa.Array:
    start = int(HOUR.timestamp() * 1e6)
    return pa.array(start + np.arange(n) * (3_600_000_000 // n), type=pa.timestamp("us"))


def test_decoded_bytes_is_the_arrays_a_row_group_becomes(tmp_path) -> None:
    """The estimate is at least what the read columns take as the profilers get them (numbers
    as float64, strings as int32 dictionary indices), even where the file is far smaller."""
    n = 50_000
    rng = np.random.default_rng(5)
    discrete = rng.integers(0, 5, n).astype(np.float64)  # dictionary-encoded: ~3 bits a row
    table = pa.table(
        {
            "discrete": discrete,
            "normal": rng.normal(size=n),
            "count": pa.array(rng.integers(0, 3, n).astype(np.int32)),
            "s": pa.array(rng.choice(["a", "b", "c"], n)),
            "ts": _stamps(n),
        }
    )
    path = _write(tmp_path, table)
    group = pq.read_metadata(path).row_group(0)
    names = ["discrete", "normal", "count", "s", "ts"]
    in_file = {
        group.column(j).path_in_schema: group.column(j).total_uncompressed_size for j in range(5)
    }
    assert in_file["discrete"] < n  # under a byte a row in the file
    read = pq.read_table(path, read_dictionary=["s"])
    arrays = 8 * n * 4 + read.column("s").nbytes  # 4 columns as float64 / int64, then indices
    estimate = decoded_bytes(group, names)
    assert arrays <= estimate <= 1.25 * arrays  # a column that fell back from its dictionary
    # to plain pages keeps the dictionary page in the file: a little more than its array
    assert decoded_bytes(group, ["discrete"]) == 8 * n


def test_a_row_group_above_group_bytes_by_its_arrays_is_read_in_batches(tmp_path) -> None:
    """40,000 rows of a five-valued float column (about 15 kB in the file, 320 kB as float64)
    and their timestamps (320 kB either way): with ``group_bytes`` between the footer's 335 kB
    and the arrays' 640 kB the row group is not one chunk."""
    n = 40_000
    rng = np.random.default_rng(6)
    path = _write(
        tmp_path, pa.table({"x": rng.integers(0, 5, n).astype(np.float64), "ts": _stamps(n)})
    )
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=10_000, group_bytes=500_000)
    group = pq.read_metadata(path).row_group(0)
    assert sum(group.column(j).total_uncompressed_size for j in range(2)) < 500_000
    chunks = [chunk.rows for chunk in source.read_columns(HOUR, END, ["x"])]
    assert chunks == [10_000] * 4
    whole = ParquetLogSource(tmp_path, "ts", chunk_rows=10_000, group_bytes=1_000_000)
    assert [chunk.rows for chunk in whole.read_columns(HOUR, END, ["x"])] == [n]


def test_batches_of_a_large_row_group_do_not_hold_the_row_group(tmp_path) -> None:
    """One row group of 2,000,000 rows × 3 random float columns and the timestamp (64 MB,
    incompressible), read in batches of 10,000 rows: Arrow holds each column's read buffer and
    dictionary page (a few MB a column), not the 64 MB of column chunks as it does pre-buffered."""
    n = 2_000_000
    rng = np.random.default_rng(7)
    columns = {f"x{i}": rng.normal(size=n) for i in range(3)}
    _write(tmp_path, pa.table({**columns, "ts": _stamps(n)}))
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=10_000)
    before = pa.total_allocated_bytes()
    held = []
    for chunk in source.read_window(HOUR, END, list(columns)):
        held.append(pa.total_allocated_bytes() - before)
        del chunk
    assert len(held) == 200
    assert max(held) < 24e6, f"{max(held) / 1e6:.1f} MB held while reading batches"
