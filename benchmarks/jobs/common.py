"""What every benchmark child shares: arguments, loading, memory readings, the JSON report.

Children run in the project's venv or a peer's venv, so this imports only the
standard library and pandas (every venv has both).
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd

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


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Both frames (the 25 feature columns) and how long reading them took."""
    start = time.perf_counter()
    reference = pd.read_parquet(args.reference, columns=FEATURES)
    production = pd.read_parquet(args.production, columns=FEATURES)
    return reference, production, {"load_seconds": time.perf_counter() - start}


def report(**fields: object) -> None:
    """Print the child's one-line JSON report, with its current and peak resident memory."""
    print(json.dumps({**fields, "rss_end_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}), flush=True)
