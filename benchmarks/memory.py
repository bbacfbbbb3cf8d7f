"""Part 3: peak memory of profiling an hour streamed from Parquet, small hour vs large hour.

Each hour is profiled in a fresh child process, once per read path: ``read_window``
(record batches of ``chunk_rows`` as DataFrames) and ``read_columns`` (the pipeline's
path without checks: a row group whole when it decodes to at most ``group_bytes``, else
record batches). The largest hour is profiled again rewritten as one row group (a writer that
does not split its hour). Each hour's peak RSS is compared with the smallest hour's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.data import FEATURES, TIMESTAMP
from benchmarks.measure import ChildRun, run_child
from benchmarks.table import Row
from monitoring_pipelines.pipeline.aggregation import profile_threads
from monitoring_pipelines.sources.parquet import GROUP_BYTES, decoded_bytes

TARGET = 1.20


def largest_group(roots: Iterable[Path]) -> tuple[int, int]:
    """The largest row group (bytes decoded by the footer, rows) of the benchmark's columns
    in the Parquet files under ``roots``: what ``read_columns`` holds at once."""
    largest = (0, 0)
    for path in sorted(p for root in roots for p in root.rglob("*.parquet")):
        metadata = pq.read_metadata(path)
        for group in range(metadata.num_row_groups):
            meta = metadata.row_group(group)
            largest = max(largest, (decoded_bytes(meta, [*FEATURES, TIMESTAMP]), meta.num_rows))
    return largest


def memory_bounded(
    reference: Path,
    log_roots: dict[int, Path],
    chunk_rows: int,
    group_bytes: int = GROUP_BYTES,
    one_group: Path | None = None,
) -> list[Row]:
    """Per read path, peak RSS and time per hour (each size of ``log_roots``, and the largest
    again as one row group when ``one_group`` holds it) and each hour's peak against the
    smallest's."""
    parts = {
        "frames": f"3 memory (read_window: record batches of {chunk_rows:,} rows → DataFrames)",
        "columns": (
            f"3 memory (read_columns: row groups of ≤ {group_bytes / 2**20:,.0f} MiB decoded "
            f"whole → arrays, else batches of {chunk_rows:,}; the pipeline without checks or "
            "segments)"
        ),
    }
    hours = []
    for n, root in sorted(log_roots.items()):
        decoded, rows = largest_group([root])
        groups = f"row groups of {rows:,} rows, {decoded / 1e6:,.0f} MB decoded"
        hours.append((f"{n:,} rows ({groups})", n, root))
    if one_group is not None:
        largest = max(log_roots)
        hours.append((f"{largest:,} rows in one row group", largest, one_group))
    threads = {"frames": 1, "columns": profile_threads()}
    table = []
    for read, part in parts.items():
        options = ["--chunk-rows", str(chunk_rows), "--group-bytes", str(group_bytes)]
        options += ["--read", read, "--threads", str(threads[read])]
        runs = {
            label: (
                n,
                run_child("benchmarks.jobs.ours_stream", [str(reference), str(root), *options]),
            )
            for label, n, root in hours
        }
        table += _rows(part, runs)
    return table


def _rows(part: str, runs: dict[str, tuple[int, ChildRun]]) -> list[Row]:
    """One row per hour (time, peak, chunks), then each larger hour's peak against the first's
    and the target; the work's own peak (over the memory once the baseline is fitted) beside."""
    table = []
    for label, (rows, run) in runs.items():
        seconds = run.report["seconds"]
        if run.report["rows"] != rows:
            raise RuntimeError(f"streamed {run.report['rows']} rows, expected {rows}")
        table.append(
            Row(
                part,
                f"{label}: read + profile ({_count(run.report['threads'], 'thread')})",
                f"{seconds:.2f} s ({rows / seconds / 1e6:.2f} M rows/s), "
                f"peak {run.peak_rss_mb:,.0f} MB (the work +{_work_mb(run):,.0f} MB); "
                f"{_count(run.report['chunks'], 'chunk')}, "
                f"largest {run.report['largest_chunk']:,} rows",
            )
        )
    (first, (_, small)), *larger = runs.items()
    for label, (_, run) in larger:
        growth = run.peak_rss_mb / small.peak_rss_mb
        table.append(
            Row(
                part,
                f"peak memory, {label.split(' (')[0]} vs {first.split(' (')[0]}",
                f"{run.peak_rss_mb:,.0f} MB vs {small.peak_rss_mb:,.0f} MB (the work "
                f"+{_work_mb(run):,.0f} MB vs +{_work_mb(small):,.0f} MB)",
                f"{growth:.2f}× ({(growth - 1) * 100:+.0f}%)",
                f"< {TARGET:.2f}× (+{(TARGET - 1) * 100:.0f}%)",
                growth < TARGET,
            )
        )
    return table


def _work_mb(run: ChildRun) -> float:
    """What the read and profile added at their peak to the memory held before them."""
    return run.report["work_peak_mb"] - run.report["rss_loaded_mb"]


def _count(n: int, noun: str) -> str:
    """``1 chunk``, ``100 chunks``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
