"""Scoring logs (and labels) as Parquet files in the hive layout ``ParquetLogSource`` reads.

Each batch becomes one file per UTC hour: ``<root>/date=YYYY-MM-DD/hour=HH/part-*.parquet``.
A file is written under a hidden temporary name in the same folder, synced, and renamed into
place (``os.replace`` is atomic), so a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.traffic.records import Inference, Label
from monitoring_pipelines.traffic.sinks.base import Sink, SinkError, label_row, split


class ParquetSink(Sink):
    """Inferences under ``path``; labels under ``labels_path`` (``log_label`` needs one)."""

    def __init__(self, path: Path | str, labels_path: Path | str | None = None):
        self.path = Path(path)
        self.labels_path = None if labels_path is None else Path(labels_path)

    def __repr__(self) -> str:
        return f"ParquetSink({str(self.path)!r})"

    @property
    def takes_labels(self) -> bool:
        return self.labels_path is not None

    def write(self, batch: Sequence[Inference | Label]) -> None:
        inferences, labels = split(batch)
        groups: dict[tuple[Path, datetime], list[tuple[Any, dict]]] = defaultdict(list)
        for record in inferences:
            groups[self.path, _hour(record.timestamp)].append((record, self.schema.row(record)))
        for record in labels:
            groups[self.labels_path, _hour(record.timestamp)].append((record, label_row(record)))
        undelivered: list[Any] = []
        errors = []
        for (root, hour), pairs in groups.items():
            try:
                write_atomic(hour_folder(root, hour), [row for _, row in pairs])
            except OSError as error:
                undelivered.extend(record for record, _ in pairs)
                errors.append(f"{hour_folder(root, hour)}: {error.strerror or error}")
        if undelivered:
            raise SinkError("; ".join(errors), undelivered)


def _hour(timestamp: datetime) -> datetime:
    return timestamp.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def write_atomic(folder: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as one new Parquet file in ``folder``, appearing all at once."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.parquet"
    temporary = folder / f".{name}.tmp"
    try:
        with open(temporary, "wb") as handle:
            pq.write_table(to_table(rows), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, folder / name)
    finally:
        temporary.unlink(missing_ok=True)
    return folder / name


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table of the rows' union of columns; a column whose values Arrow cannot type
    together (say ints and strings in an unchecked extra) is written as strings."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    arrays = []
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in values]))
    return pa.table(dict(zip(names, arrays, strict=True)))
