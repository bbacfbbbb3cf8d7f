"""Part 3: peak memory of profiling an hour streamed from Parquet, small hour vs large hour.

Each hour is profiled in a fresh child process; the kernel's peak RSS of that
child is compared between the two sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.measure import run_child
from benchmarks.table import Row

TARGET = 1.20


def memory_bounded(reference: Path, log_roots: dict[int, Path], chunk_rows: int) -> list[Row]:
    """Peak RSS and time per hour size; the ratio of the largest to the smallest peak."""
    part = f"3 memory (Parquet in chunks of {chunk_rows:,} rows, ParquetLogSource)"
    runs = {
        rows: run_child(
            "benchmarks.jobs.ours_stream",
            [str(reference), str(root), "--chunk-rows", str(chunk_rows)],
            sys.executable,
        )
        for rows, root in sorted(log_roots.items())
    }
    table = []
    for rows, run in runs.items():
        seconds = run.report["seconds"]
        if run.report["rows"] != rows:
            raise RuntimeError(f"streamed {run.report['rows']} rows, expected {rows}")
        table.append(
            Row(
                part,
                f"{rows:,} rows: read + profile",
                f"{seconds:.2f} s ({rows / seconds / 1e6:.2f} M rows/s), "
                f"peak {run.peak_rss_mb:,.0f} MB",
            )
        )
    small, large = min(runs), max(runs)
    growth = runs[large].peak_rss_mb / runs[small].peak_rss_mb
    table.append(
        Row(
            part,
            f"peak memory, {large:,} vs {small:,} rows",
            f"{runs[large].peak_rss_mb:,.0f} MB vs {runs[small].peak_rss_mb:,.0f} MB",
            f"{growth:.2f}× ({(growth - 1) * 100:+.0f}%)",
            f"< {TARGET:.2f}× (+{(TARGET - 1) * 100:.0f}%)",
            growth < TARGET,
        )
    )
    return table
