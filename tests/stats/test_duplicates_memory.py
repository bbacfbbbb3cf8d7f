"""DuplicateCounter passes chunks on without holding one while the next is read: with
``read_columns`` a chunk is a whole Parquet row group, so holding it would double the peak."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from monitoring_pipelines.stats.dataset import Columns
from monitoring_pipelines.stats.duplicates import DuplicateCounter


@pytest.mark.parametrize("as_columns", [True, False])
def test_a_chunk_is_released_before_the_next_is_read(as_columns: bool) -> None:
    passed: list[weakref.ref] = []
    alive_at_read: list[bool] = []

    def chunks() -> Iterator[pd.DataFrame | Columns]:
        for i in range(3):
            gc.collect()
            alive_at_read.append(any(ref() is not None for ref in passed))
            ids = np.arange(10) + 5 * i  # each chunk repeats 5 ids of the one before
            frame = pd.DataFrame({"request_id": ids, "x": np.ones(10)})
            yield Columns.of(frame) if as_columns else frame

    counter = DuplicateCounter("request_id")
    for chunk in counter.observe(chunks()):
        assert "request_id" not in (chunk.values if as_columns else chunk.columns)
        passed.append(weakref.ref(chunk))
        del chunk
    assert alive_at_read == [False, False, False]
    assert counter.duplicates() == 10
