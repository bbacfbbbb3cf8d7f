"""What every benchmark child shares: arguments, loading, memory readings, the JSON report.

Children run in the project's venv or a peer's venv, so this imports only the
standard library, pandas and pyarrow (every venv has them).
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import pyarrow as pa

from benchmarks.data import FEATURES


def arguments(description: str) -> argparse.Namespace:
    """``reference`` and ``production`` Parquet paths from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("reference")
    parser.add_argument("production")
    return parser.parse_args()


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def rss_mb() -> float:
    """Resident memory of this process now (MB)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started its program (MB)."""
    return _status_mb("VmHWM")


def start_work() -> dict:
    """Mark the end of loading, the same way in every child: hand the Arrow pool's unused
    pages back, note the memory so far, and reset the peak so the work's own peak shows."""
    pa.default_memory_pool().release_unused()
    marks = {"load_peak_mb": peak_rss_mb(), "rss_loaded_mb": rss_mb()}
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return marks


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Both frames (the 25 feature columns), how long reading took and the memory marks."""
    start = time.perf_counter()
    reference = pd.read_parquet(args.reference, columns=FEATURES)
    production = pd.read_parquet(args.production, columns=FEATURES)
    return reference, production, {"load_seconds": time.perf_counter() - start, **start_work()}


def report(**fields: object) -> None:
    """Print the child's one-line JSON report, with its current and peak resident memory
    (``work_peak_mb`` since :func:`start_work` when it was called, else since the start)."""
    print(json.dumps({**fields, "rss_end_mb": rss_mb(), "work_peak_mb": peak_rss_mb()}), flush=True)
