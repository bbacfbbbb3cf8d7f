"""Scoring logs as hive-style Parquet folders: ``<root>/date=YYYY-MM-DD/hour=HH/*.parquet``.

Each file is streamed with pyarrow, row group by row group (``iter_batches`` over a
whole file pre-buffers every row group, so memory would grow with the file), in
record batches of at most ``chunk_rows``; the window filter runs in Arrow (and only
when a batch holds out-of-window rows), so only the rows that are kept are
converted to pandas. String columns are read dictionary-encoded and arrive as pandas
Categoricals (numbers stay numpy arrays, without a copy when they have no nulls).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

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


def _string_columns(path: Path) -> list[str]:
    """Columns of strings, read as Arrow dictionaries: they reach pandas as Categoricals,
    counted by dictionary index, not as a Python object per row."""
    schema = pq.read_schema(path)
    return [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


class ParquetLogSource(LogSource):
    """One deployment's log folder, read hour folder by hour folder, file by file."""

    def __init__(self, root: Path | str, timestamp_column: str, chunk_rows: int = 100_000):
        self.root = Path(root)
        self.timestamp_column = timestamp_column
        self.chunk_rows = check_chunk_rows(chunk_rows)
        self._dropped: Counter[str] = Counter()

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
        start, end = check_window(start, end)
        if not self.root.is_dir():  # a typo in logs.path must not look like a quiet model
            raise BadLogFileError(self.root, "logs.path is not a directory (no such folder)")
        self._dropped = Counter(rows_out_of_window=0, rows_null_timestamp=0)
        for hour in hours_between(start, end):
            for path in self.files(hour):
                yield from self._read_file(path, start, end, columns)

    def dropped_rows(self) -> dict[str, int]:
        """Rows of the window's hour folders stamped outside the window, or with no stamp."""
        return dict(self._dropped)

    def _read_file(
        self, path: Path, start: datetime, end: datetime, columns: Sequence[str] | None
    ) -> Iterator[pd.DataFrame]:
        try:
            yield from self._read_parquet(path, start, end, columns)
        except (pa.ArrowException, OSError) as error:
            # pyarrow names no file ("Parquet magic bytes not found in footer")
            raise BadLogFileError(path, f"not a readable Parquet file ({error})") from None

    def _read_parquet(
        self, path: Path, start: datetime, end: datetime, columns: Sequence[str] | None
    ) -> Iterator[pd.DataFrame]:
        with pq.ParquetFile(path, read_dictionary=_string_columns(path)) as parquet:
            names = parquet.schema_arrow.names
            if self.timestamp_column not in names:
                raise BadLogFileError(
                    path, f"no timestamp column {self.timestamp_column!r} (columns: {names})"
                )
            wanted = names if columns is None else [c for c in columns if c in names]
            read = list(dict.fromkeys([*wanted, self.timestamp_column]))
            for group in range(parquet.num_row_groups):
                batches = parquet.iter_batches(
                    batch_size=self.chunk_rows, row_groups=[group], columns=read
                )
                for batch in batches:
                    table = self._in_window(pa.Table.from_batches([batch]), path, start, end)
                    if table.num_rows:
                        yield table.select(wanted).to_pandas()

    def _in_window(self, table: pa.Table, path: Path, start: datetime, end: datetime) -> pa.Table:
        """Keep rows with ``start <= timestamp < end``; the timestamp becomes UTC-aware
        (naive Parquet timestamps are taken as UTC)."""
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
        low, high = pa.scalar(start, type=utc_type), pa.scalar(end, type=utc_type)
        bounds = pc.min_max(stamps)
        if (
            stamps.null_count == 0
            and table.num_rows
            and pc.greater_equal(bounds["min"], low).as_py()
            and pc.less(bounds["max"], high).as_py()
        ):
            return table
        kept = table.filter(pc.and_(pc.greater_equal(stamps, low), pc.less(stamps, high)))
        self._dropped["rows_null_timestamp"] += stamps.null_count
        self._dropped["rows_out_of_window"] += table.num_rows - kept.num_rows - stamps.null_count
        return kept
