"""The log-source interface: one deployment's scoring rows of a time window, in chunks.

Assets depend on :class:`LogSource`, not on a storage format, so Parquet folders and
SQL tables (and test doubles) are interchangeable; every reader yields bounded chunks
so an hour of millions of rows never sits in memory at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from monitoring_pipelines.stats.dataset import Columns, DatasetProfile

HOUR = timedelta(hours=1)
REFERENCE_SUFFIXES = (".parquet", ".csv")


class LogSourceError(RuntimeError):
    """A log store failed (unreachable, bad query); the message never holds a secret."""


class BadLogFileError(ValueError):
    """A log file that cannot be read as logs (corrupt, empty, no timestamp); names its path.

    It fails that hour only: a backfill goes on with its other hours.
    """

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


class LogSource(ABC):
    """One deployment's rows with ``start <= timestamp < end``, in chunks of ``chunk_rows``."""

    timestamp_column: str
    chunk_rows: int

    @abstractmethod
    def read_window(
        self, start: datetime, end: datetime, columns: Sequence[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        """Yield the window's rows; ``columns=None`` reads every column.

        Requested columns a batch lacks are left out of its chunk (the profiler counts
        them as absent); the timestamp comes back as UTC-aware datetimes.
        """

    def read_columns(
        self, start: datetime, end: datetime, columns: Sequence[str] | None = None
    ) -> Iterator[Columns]:
        """:meth:`read_window` as :class:`~monitoring_pipelines.stats.dataset.Columns` chunks,
        for the profilers alone (a source that can skip the DataFrame does)."""
        return (Columns.of(frame) for frame in self.read_window(start, end, columns))

    def dropped_rows(self) -> dict[str, int]:
        """Rows the last ``read_window`` (or ``profile_window``) found but left out, by reason
        (``rows_out_of_window``, ``rows_null_timestamp``), so they are counted, not lost; empty
        when it cannot tell."""
        return {}

    def unstamped_rows(self) -> int | None:
        """Rows of the deployment that no window's range holds because their timestamp is
        NULL (a SQL table), counted over the whole source for the store to attribute to one
        hour (``store.aggregates.write_profile``); None when the source counts them per window
        in :meth:`dropped_rows` or cannot tell."""
        return None

    def pushes_down(self) -> bool:
        """Whether :meth:`profile_window` profiles where the rows live (else it returns None)."""
        return False

    def log_files(self, start: datetime, end: datetime) -> int | None:
        """How many log files hold the window's rows (None: the source has no files), so an
        empty hour can be told "no file" from "a file of 0 rows"."""
        return None

    def profile_window(
        self,
        start: datetime,
        end: datetime,
        baseline: DatasetProfile,
        request_id: str | None = None,
    ) -> DatasetProfile | None:
        """The window's profile computed where the rows live, or None (read them instead);
        :meth:`dropped_rows` then also holds ``duplicate_request_ids`` of the ``request_id``
        column when one is named."""
        return None

    @abstractmethod
    def available_hours(self, start: datetime, end: datetime) -> list[datetime]:
        """Starts of the hours in ``[start, end)`` that may hold rows (cheap, may over-report)."""


def check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both bounds as UTC datetimes; naive datetimes and reversed windows are rejected."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name}={value.isoformat()} is naive: pass a timezone-aware datetime")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end < start:
        raise ValueError(f"window end {end.isoformat()} is before start {start.isoformat()}")
    return start, end


def check_chunk_rows(chunk_rows: int) -> int:
    """A positive integer chunk size."""
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    return chunk_rows


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Starts of every UTC hour that overlaps ``[start, end)``."""
    start, end = check_window(start, end)
    hour = start.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def read_reference(path: Path | str) -> pd.DataFrame:
    """Load reference (training) data from a Parquet or CSV file, chosen by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REFERENCE_SUFFIXES:
        raise ValueError(
            f"reference data {str(path)!r}: unsupported suffix {path.suffix!r} "
            f"(valid: {', '.join(REFERENCE_SUFFIXES)})"
        )
    if not path.is_file():
        raise FileNotFoundError(f"reference data {str(path)!r} does not exist")
    if suffix == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    return pd.read_csv(path)
