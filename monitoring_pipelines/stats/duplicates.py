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


class DuplicateCounter:
    """Counts the values of one column seen before, over the chunks of a window."""

    def __init__(self, column: str):
        self.column = column
        self._hashes: list[np.ndarray] = []

    def observe(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Pass chunks through without the id column, hashing its values on the way."""
        for chunk in chunks:
            if self.column in chunk.columns:
                ids = chunk[self.column].dropna()
                self._hashes.append(pd.util.hash_pandas_object(ids, index=False).to_numpy())
                chunk = chunk.drop(columns=[self.column])
            yield chunk

    def duplicates(self) -> int:
        """Ids seen so far minus distinct ids: the rows that repeat an earlier row's id."""
        if not self._hashes:
            return 0
        hashes = np.concatenate(self._hashes)
        return int(hashes.size - np.unique(hashes).size)
