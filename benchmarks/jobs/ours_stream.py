"""Ours, streaming one hour of Parquet logs chunk by chunk (part 3: memory bounded by the chunk)."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import pandas as pd

from benchmarks.data import FEATURES, HOUR, KINDS, TIMESTAMP
from benchmarks.jobs.common import report, rss_mb
from monitoring_pipelines.sources.parquet import ParquetLogSource
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reference")
    parser.add_argument("log_root")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    args = parser.parse_args()
    baseline = fit_baseline(pd.read_parquet(args.reference, columns=FEATURES), KINDS)
    rss_ready = rss_mb()
    source = ParquetLogSource(args.log_root, TIMESTAMP, chunk_rows=args.chunk_rows)
    start = time.perf_counter()
    profile = profile_chunks(
        source.read_window(HOUR, HOUR + timedelta(hours=1), FEATURES), baseline
    )
    report(rss_loaded_mb=rss_ready, seconds=time.perf_counter() - start, rows=profile.row_count)


if __name__ == "__main__":
    main()
