"""Ours, streaming one hour of Parquet logs chunk by chunk (part 3: memory bounded by the chunk).

``--read frames``: ``read_window`` (record batches of ``chunk_rows`` as DataFrames) into
``profile_chunks``. ``--read columns``: the pipeline's path when no check or segment needs
a DataFrame, ``read_columns`` (a row group whole when it decodes to at most ``group_bytes``,
else record batches) into ``profile_chunks``. ``--threads``: the profile's threads (the
parent passes the pipeline's ``profile_threads()``, so this child imports no pipeline module).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TypeVar

import pandas as pd

from benchmarks.data import FEATURES, HOUR, KINDS, TIMESTAMP
from benchmarks.jobs.common import report, start_work
from monitoring_pipelines.sources.parquet import GROUP_BYTES, ParquetLogSource
from monitoring_pipelines.stats.dataset import Columns, fit_baseline, profile_chunks

Chunk = TypeVar("Chunk", pd.DataFrame, Columns)


def counted(chunks: Iterable[Chunk], sizes: list[int]) -> Iterator[Chunk]:
    """The chunks unchanged, each one's row count appended to ``sizes`` (no reference kept)."""
    for chunk in chunks:
        sizes.append(chunk.rows if isinstance(chunk, Columns) else len(chunk))
        yield chunk
        del chunk  # not held while the next chunk is read (a whole row group, maybe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reference")
    parser.add_argument("log_root")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--group-bytes", type=int, default=GROUP_BYTES)
    parser.add_argument("--read", choices=("frames", "columns"), default="frames")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    baseline = fit_baseline(pd.read_parquet(args.reference, columns=FEATURES), KINDS)
    marks = start_work()
    source = ParquetLogSource(
        args.log_root, TIMESTAMP, chunk_rows=args.chunk_rows, group_bytes=args.group_bytes
    )
    end = HOUR + timedelta(hours=1)
    sizes: list[int] = []
    start = time.perf_counter()
    if args.read == "columns":
        chunks = counted(source.read_columns(HOUR, end, FEATURES), sizes)
    else:
        chunks = counted(source.read_window(HOUR, end, FEATURES), sizes)
    profile = profile_chunks(chunks, baseline, threads=args.threads)
    report(
        **marks,
        seconds=time.perf_counter() - start,
        rows=profile.row_count,
        chunks=len(sizes),
        largest_chunk=max(sizes, default=0),
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
