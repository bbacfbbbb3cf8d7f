"""Scoring logs as hive-style Parquet folders: ``<root>/date=YYYY-MM-DD/hour=HH/*.parquet``.

Each file is streamed with pyarrow, row group by row group, in record batches of at most
``chunk_rows``; the file is opened without pre-buffering and with a read buffer per column
(``READ_BUFFER``), else pyarrow holds every read column chunk of the row group while it hands
out the batches, so memory would grow with the row group. The window filter runs in Arrow (and
only when a batch holds out-of-window rows), so only the rows that are kept are converted to
pandas. String columns are read dictionary-encoded and arrive as pandas Categoricals (numbers
stay numpy arrays, without a copy when they have no nulls). ``read_columns`` skips the
DataFrame: numbers go from Arrow straight into float64 arrays, and a row group whose read
columns decode to at most ``group_bytes`` (estimated from the footer, :func:`decoded_bytes`;
256 MiB by default) is one chunk, decoded by pyarrow's threads, so memory is bounded by that
size; larger row groups are read in record batches of ``chunk_rows``.

A row filed in the folder of the hour next to its own (a writer that flushed late or early)
is read by the hour it belongs to: a window also reads the neighbouring hour folders, keeping
their rows stamped inside the window (row groups whose timestamp statistics lie outside it
are skipped unread). The counts of :data:`COUNTS` say what each read did with such rows.

A source keeps the footers it has read (:class:`Footers`): a file read as its own hour's and as
both neighbours' has its footer parsed once, and again only when the file's inode, size or
modification time has changed (a rewritten file is never read through a stale footer).
"""

from __future__ import annotations

import os
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from monitoring_pipelines.sources.base import (
    BadLogFileError,
    LogSource,
    check_chunk_rows,
    check_window,
    hours_between,
)
from monitoring_pipelines.stats.dataset import Columns

HOUR = timedelta(hours=1)
# per read: rows of the window's folders stamped more than an hour from their folder's hour
# (not profiled anywhere) or not stamped; stamped in the next or previous hour, outside the
# window (``rows_misfiled``: that hour reads them); read from the neighbouring folders
# because they are stamped inside the window (``rows_from_neighbours``, profiled here)
COUNTS = ("rows_out_of_window", "rows_null_timestamp", "rows_misfiled", "rows_from_neighbours")
GROUP_BYTES = 256 << 20
# bytes read at a time per column chunk: with pyarrow's default (pre-buffered, unbuffered reads)
# a 10M-row group read in batches of 100,000 rows held its 1.4 GB of column chunks at once
READ_BUFFER = 1 << 20
# bytes a row takes once read, by Parquet physical type: numbers become float64 (timestamps
# int64), strings dictionary indices (int32), booleans numpy bools; other types count as the
# footer's uncompressed size
DECODED_WIDTH = {
    "BOOLEAN": 1,
    "INT32": 8,
    "INT64": 8,
    "INT96": 8,
    "FLOAT": 8,
    "DOUBLE": 8,
    "BYTE_ARRAY": 4,
}
# row groups of at least this many rows are decoded on Arrow's threads; a smaller one costs
# more in handing out its columns than it gains (10,000 rows × 23 columns: 1.6 ms on one
# thread, 2.1-3.4 ms on two, on a shared 2-core machine)
THREADED_ROWS = 100_000
# footers a source keeps (a few KB each for an hour's file of tens of columns): a run walks the
# hours in order and reads each hour's files with its neighbours', so the last three hours'
# files are the ones read again
FOOTERS = 128


def hour_folder(root: Path, hour: datetime) -> Path:
    """The folder holding the logs of the UTC hour starting at ``hour``."""
    return root / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"


def first_hour(root: Path) -> datetime | None:
    """The earliest hour folder under ``root`` holding a Parquet file (None when there is none).

    Only folder names are read (``date=YYYY-MM-DD/hour=HH``); folders named otherwise are
    not hours and are passed over.
    """
    hours = []
    for folder in root.glob("date=*/hour=*"):
        try:
            hour = datetime.strptime(
                f"{folder.parent.name} {folder.name}", "date=%Y-%m-%d hour=%H"
            ).replace(tzinfo=UTC)
        except ValueError:
            continue
        hours.append((hour, folder))
    return next((hour for hour, folder in sorted(hours) if any(folder.glob("*.parquet"))), None)


class Footers:
    """The parsed footers of the files a source has read (the last ``size``), each with the
    file's inode, size and modification time: a footer is parsed once per file (a window reads
    its own hour and both neighbours', so each file about three times) and again when the file
    has changed."""

    def __init__(self, size: int = FOOTERS):
        self.size = size
        self._kept: OrderedDict[Path, tuple[tuple[int, int, int], pq.FileMetaData, pa.Schema]]
        self._kept = OrderedDict()

    def get(self, path: Path) -> tuple[pq.FileMetaData, pa.Schema]:
        """``path``'s footer and its Arrow schema, parsed now unless kept from the file as it is."""
        info = os.stat(path)
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        kept = self._kept.get(path)
        if kept is not None and kept[0] == stamp:
            self._kept.move_to_end(path)
            return kept[1], kept[2]
        metadata = pq.read_metadata(path)
        schema = metadata.schema.to_arrow_schema()
        self._kept[path] = (stamp, metadata, schema)
        self._kept.move_to_end(path)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return metadata, schema


def _string_columns(schema: pa.Schema) -> list[str]:
    """Columns of strings, read as Arrow dictionaries: they reach pandas as Categoricals,
    counted by dictionary index, not as a Python object per row."""
    return [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def arrow_values(column: pa.ChunkedArray) -> np.ndarray | pd.Series:
    """A column for the profilers: integers and floats as one float64 numpy array (nulls as
    NaN, no copy for a float column without nulls), anything else as a pandas Series
    (dictionaries become Categoricals over their indices)."""
    kind = column.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        if kind != pa.float64():
            column = column.cast(pa.float64())
        return column.to_numpy()
    return column.to_pandas()


class ParquetLogSource(LogSource):
    """One deployment's log folder, read hour folder by hour folder, file by file."""

    def __init__(
        self,
        root: Path | str,
        timestamp_column: str,
        chunk_rows: int = 100_000,
        group_bytes: int = GROUP_BYTES,
    ):
        self.root = Path(root)
        self.timestamp_column = timestamp_column
        self.chunk_rows = check_chunk_rows(chunk_rows)
        if isinstance(group_bytes, bool) or not isinstance(group_bytes, int) or group_bytes < 0:
            raise ValueError(f"group_bytes must be a non-negative integer, got {group_bytes!r}")
        self.group_bytes = group_bytes
        self._dropped: Counter[str] = Counter()
        self.footers = Footers()

    def __repr__(self) -> str:
        return (
            f"ParquetLogSource(root={str(self.root)!r}, timestamp_column={self.timestamp_column!r})"
        )

    def files(self, hour: datetime) -> list[Path]:
        """The Parquet files of one hour, in name order (none when the folder is missing)."""
        return sorted(hour_folder(self.root, hour).glob("*.parquet"))

    def available_hours(self, start: datetime, end: datetime) -> list[datetime]:
        return [hour for hour in hours_between(start, end) if self.files(hour)]

    def log_files(self, start: datetime, end: datetime) -> int:
        return sum(len(self.files(hour)) for hour in hours_between(start, end))

    def read_window(
        self, start: datetime, end: datetime, columns: Sequence[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        for table in self._tables(start, end, columns):
            yield table.to_pandas()

    def read_columns(
        self, start: datetime, end: datetime, columns: Sequence[str] | None = None
    ) -> Iterator[Columns]:
        """The window's row groups (or record batches of those larger than ``group_bytes``)
        straight into numpy arrays: numbers as float64 (nulls as NaN), dictionary-encoded
        strings as pandas Categoricals over the Arrow indices."""
        for table in self._tables(start, end, columns, whole=True):
            yield Columns(
                table.num_rows, {n: arrow_values(table.column(n)) for n in table.column_names}
            )
            del table  # a row group's arrays: released before the next one is read

    def _tables(
        self, start: datetime, end: datetime, columns: Sequence[str] | None, whole: bool = False
    ) -> Iterator[pa.Table]:
        start, end = check_window(start, end)
        if not self.root.is_dir():  # a typo in logs.path must not look like a quiet model
            raise BadLogFileError(self.root, "logs.path is not a directory (no such folder)")
        self._dropped = Counter(dict.fromkeys(COUNTS, 0))
        hours = hours_between(start, end)
        for hour in hours:
            for path in self.files(hour):
                yield from self._read_file(path, hour, start, end, columns, whole=whole)
        for hour in sorted({hours[0] - HOUR, hours[-1] + HOUR}) if hours else ():
            for path in self.files(hour):
                try:
                    yield from self._read_file(
                        path, hour, start, end, columns, own=False, whole=whole
                    )
                except BadLogFileError:
                    continue  # that file fails its own hour, named there

    def dropped_rows(self) -> dict[str, int]:
        """What the last read did with rows stamped away from their folder's hour (``COUNTS``)."""
        return dict(self._dropped)

    def _read_file(
        self,
        path: Path,
        folder: datetime,
        start: datetime,
        end: datetime,
        columns: Sequence[str] | None,
        own: bool = True,
        whole: bool = False,
    ) -> Iterator[pa.Table]:
        """The rows of one file of the window's folders (``own``) or of a neighbouring one;
        ``whole``: row groups up to ``group_bytes`` in one table."""
        try:
            yield from self._read_parquet(path, folder, start, end, columns, own, whole)
        except (pa.ArrowException, OSError) as error:
            # pyarrow names no file ("Parquet magic bytes not found in footer")
            raise BadLogFileError(path, f"not a readable Parquet file ({error})") from None

    def _read_parquet(
        self,
        path: Path,
        folder: datetime,
        start: datetime,
        end: datetime,
        columns: Sequence[str] | None,
        own: bool,
        whole: bool,
    ) -> Iterator[pa.Table]:
        if not own:  # only its rows stamped inside the window and next to its own hour
            start, end = max(start, folder - HOUR), min(end, folder + 2 * HOUR)
        metadata, schema = self.footers.get(path)
        names = schema.names
        if self.timestamp_column not in names:
            raise BadLogFileError(
                path, f"no timestamp column {self.timestamp_column!r} (columns: {names})"
            )
        wanted = names if columns is None else [c for c in columns if c in names]
        read = list(dict.fromkeys([*wanted, self.timestamp_column]))
        groups = range(metadata.num_row_groups)
        if not own:  # a neighbour's file is not even opened when no row group may hold one
            groups = _overlapping(metadata, self.timestamp_column, start, end)
        if not groups:
            return
        with pq.ParquetFile(
            path,
            metadata=metadata,
            read_dictionary=_string_columns(schema),
            pre_buffer=False,
            buffer_size=READ_BUFFER,
        ) as parquet:
            for group in groups:
                for table in self._group(parquet, group, read, whole):
                    table = self._in_window(table, path, folder, start, end, own)
                    if table.num_rows:
                        yield table.select(wanted)
                    del table  # released before the next row group is decoded

    def _group(
        self, parquet: pq.ParquetFile, group: int, read: list[str], whole: bool
    ) -> Iterator[pa.Table]:
        """One row group: whole (``whole`` and at most ``group_bytes`` decoded) or in record
        batches of ``chunk_rows``; pyarrow's threads decode its columns from ``THREADED_ROWS``."""
        meta = parquet.metadata.row_group(group)
        threads = meta.num_rows >= THREADED_ROWS
        if whole and decoded_bytes(meta, read) <= self.group_bytes:
            yield parquet.read_row_group(group, columns=read, use_threads=threads)
            return
        for batch in parquet.iter_batches(
            batch_size=self.chunk_rows, row_groups=[group], columns=read, use_threads=threads
        ):
            yield pa.Table.from_batches([batch])

    def _in_window(
        self,
        table: pa.Table,
        path: Path,
        folder: datetime,
        start: datetime,
        end: datetime,
        own: bool,
    ) -> pa.Table:
        """Keep rows with ``start <= timestamp < end`` and count the others; the timestamp
        becomes UTC-aware (naive Parquet timestamps are taken as UTC)."""
        index = table.schema.get_field_index(self.timestamp_column)
        stamps = table.column(index)
        if not pa.types.is_timestamp(stamps.type):
            raise BadLogFileError(
                path,
                f"timestamp column {self.timestamp_column!r} has type {stamps.type}, "
                "expected a Parquet timestamp",
            )
        utc_type = pa.timestamp(stamps.type.unit, tz="UTC")
        stamps = stamps.cast(utc_type)
        table = table.set_column(index, self.timestamp_column, stamps)
        if own and _within(stamps, start, end):
            return table
        kept = table.filter(_between(stamps, start, end))
        if not own:
            self._dropped["rows_from_neighbours"] += kept.num_rows
            return kept
        near = pc.and_(
            _between(stamps, folder - HOUR, folder + 2 * HOUR),
            pc.invert(_between(stamps, start, end)),
        )
        misfiled = pc.sum(pc.cast(near, pa.int64())).as_py() or 0
        self._dropped["rows_null_timestamp"] += stamps.null_count
        self._dropped["rows_misfiled"] += misfiled
        self._dropped["rows_out_of_window"] += (
            table.num_rows - kept.num_rows - stamps.null_count - misfiled
        )
        return kept


def decoded_bytes(group: pq.RowGroupMetaData, names: Sequence[str]) -> int:
    """About what the ``names`` columns of a row group take once decoded: per column the larger
    of its uncompressed size in the footer and its rows at :data:`DECODED_WIDTH` (a
    dictionary-encoded number column is a few bits a row in the file, 8 bytes as float64)."""
    wanted = set(names)
    total = 0
    for j in range(group.num_columns):
        column = group.column(j)
        if column.path_in_schema.split(".")[0] in wanted:
            width = DECODED_WIDTH.get(column.physical_type, 0)
            total += max(column.total_uncompressed_size, width * group.num_rows)
    return total


def _between(stamps: pa.ChunkedArray, low: datetime, high: datetime) -> pa.ChunkedArray:
    """``low <= stamp < high`` for UTC-aware timestamps (null for a null stamp)."""
    low_, high_ = pa.scalar(low, type=stamps.type), pa.scalar(high, type=stamps.type)
    return pc.and_(pc.greater_equal(stamps, low_), pc.less(stamps, high_))


def _within(stamps: pa.ChunkedArray, low: datetime, high: datetime) -> bool:
    """Whether every stamp is present and in ``[low, high)``: no row to filter or count."""
    if stamps.null_count or not len(stamps):
        return False
    bounds = pc.min_max(stamps)
    low_, high_ = pa.scalar(low, type=stamps.type), pa.scalar(high, type=stamps.type)
    return pc.greater_equal(bounds["min"], low_).as_py() and pc.less(bounds["max"], high_).as_py()


def _overlapping(
    metadata: pq.FileMetaData, column: str, low: datetime, high: datetime
) -> list[int]:
    """Row groups whose timestamp statistics may hold a stamp in ``[low, high)`` (all of those
    without statistics): a neighbouring folder's file is mostly skipped after its footer."""
    if low >= high:
        return []
    index = next(
        (j for j in range(metadata.num_columns) if metadata.schema.column(j).path == column),
        None,
    )
    groups = []
    for group in range(metadata.num_row_groups):
        stats = None if index is None else metadata.row_group(group).column(index).statistics
        if stats is not None and stats.has_min_max and isinstance(stats.min, datetime):
            first, last = _as_utc(stats.min), _as_utc(stats.max)
            if last < low or first >= high:
                continue
        groups.append(group)
    return groups


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
