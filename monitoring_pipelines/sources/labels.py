"""Ground-truth labels, keyed by request id, read by their own arrival time, in chunks.

Labels come hours or days after the prediction and only for some requests, so a window of
predictions is joined with the labels that *arrived* in ``[window start, cutoff)``: the
source filters on the arrival column (in Arrow for Parquet, in SQL for a table) and yields
frames of ``request_id``, ``label`` and ``arrived_at`` (UTC), at most ``chunk_rows`` each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from monitoring_pipelines.sources.base import check_chunk_rows, check_window
from monitoring_pipelines.sources.sql import SqlLogSource

REQUEST_ID, LABEL, ARRIVED_AT = "request_id", "label", "arrived_at"


class LabelSource(ABC):
    """Labels that arrived in a window, as ``request_id``, ``label``, ``arrived_at``."""

    @abstractmethod
    def read_arrived(self, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
        """Yield the labels with ``start <= arrival < end``, in chunks."""


class ParquetLabelSource(LabelSource):
    """A Parquet file or a folder of Parquet files (read recursively) holding labels."""

    def __init__(
        self,
        path: Path | str,
        request_id_column: str,
        label_column: str,
        arrival_column: str,
        chunk_rows: int = 100_000,
    ):
        self.path = Path(path)
        self.columns = {request_id_column: REQUEST_ID, label_column: LABEL}
        self.columns[arrival_column] = ARRIVED_AT
        self.arrival_column = arrival_column
        self.chunk_rows = check_chunk_rows(chunk_rows)

    def __repr__(self) -> str:
        return f"ParquetLabelSource(path={str(self.path)!r})"

    def _dataset(self) -> ds.Dataset | None:
        if not self.path.exists():
            return None
        dataset = ds.dataset(self.path, format="parquet", partitioning="hive")
        if not dataset.files:
            return None
        names = dataset.schema.names
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise ValueError(
                f"labels {str(self.path)!r}: no column(s) {missing} (columns: {names})"
            )
        kind = dataset.schema.field(self.arrival_column).type
        if not pa.types.is_timestamp(kind):
            raise ValueError(
                f"labels {str(self.path)!r}: arrival column {self.arrival_column!r} has type "
                f"{kind}, expected a Parquet timestamp"
            )
        return dataset

    def read_arrived(self, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
        start, end = check_window(start, end)
        dataset = self._dataset()
        if dataset is None:
            return
        utc = pa.timestamp(dataset.schema.field(self.arrival_column).type.unit, tz="UTC")
        stamps = ds.field(self.arrival_column).cast(utc)
        condition = (stamps >= pa.scalar(start, utc)) & (stamps < pa.scalar(end, utc))
        batches = dataset.to_batches(
            columns=list(self.columns), filter=condition, batch_size=self.chunk_rows
        )
        for batch in batches:
            if batch.num_rows:
                yield _named(batch.to_pandas(), self.columns)


class SqlLabelSource(LabelSource):
    """Labels in a SQL table, read through :class:`SqlLogSource` on the arrival column."""

    def __init__(self, table: SqlLogSource, request_id_column: str, label_column: str):
        self.table = table
        self.columns = {request_id_column: REQUEST_ID, label_column: LABEL}
        self.columns[table.timestamp_column] = ARRIVED_AT

    def __repr__(self) -> str:
        return f"SqlLabelSource({self.table!r})"

    def read_arrived(self, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
        for frame in self.table.read_window(start, end, list(self.columns)):
            yield _named(frame, self.columns)


def _named(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    frame = frame[list(columns)].rename(columns=columns)
    frame[ARRIVED_AT] = pd.to_datetime(frame[ARRIVED_AT], utc=True)
    frame[REQUEST_ID] = frame[REQUEST_ID].astype(str)
    return frame
