"""Repeated request ids in one window: a file present twice, a retried write, a replayed topic.

Each id is kept as a 64-bit hash (8 bytes a row, not a Python object), so an hour of millions
of rows is counted in a few megabytes; two distinct ids share a hash with probability about
n² / 2⁶⁵ (under 10⁻⁶ for 10⁶ ids an hour). Ids are compared by value and type (``1`` and
``"1"`` differ); missing ids are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.dataset import Columns


class DuplicateCounter:
    """Counts the values of one column seen before, over the chunks of a window."""

    def __init__(self, column: str):
        self.column = column
        self._hashes: list[np.ndarray] = []

    def observe(self, chunks: Iterable[pd.DataFrame | Columns]) -> Iterator[pd.DataFrame | Columns]:
        """Pass chunks (DataFrames or :class:`Columns`) through without the id column, hashing
        its values on the way."""
        for chunk in chunks:
            if isinstance(chunk, Columns):
                if self.column in chunk.values:
                    self._add(pd.Series(chunk.values[self.column]))
                    rest = {n: v for n, v in chunk.values.items() if n != self.column}
                    chunk = Columns(chunk.rows, rest)
            elif self.column in chunk.columns:
                self._add(chunk[self.column])
                chunk = chunk.drop(columns=[self.column])
            yield chunk
            del chunk  # not held while the next chunk is read (a whole Parquet row group)

    def _add(self, ids: pd.Series) -> None:
        self._hashes.append(pd.util.hash_pandas_object(ids.dropna(), index=False).to_numpy())

    def duplicates(self) -> int:
        """Ids seen so far minus distinct ids: the rows that repeat an earlier row's id."""
        if not self._hashes:
            return 0
        hashes = np.concatenate(self._hashes)
        return int(hashes.size - np.unique(hashes).size)
