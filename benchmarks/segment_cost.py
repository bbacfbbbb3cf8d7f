"""The hourly cost of segments: profiling an hour with 20 segments of one key against the
same hour unsegmented, in the same process (issue 13: less than 2×).

Data: the benchmark's 25 columns (``data.py``: 20 numerical with 1 % missing, 5 categorical
of 3 to 1,000 categories, as a Parquet read gives them) plus a ``region`` column of 20
values, a 100k-row reference and a 1M-row hour read in chunks of 100k rows (the pipeline's
``chunk_rows``). Not timed: ``fit_baseline``. Timed, repeats interleaved, best kept, one
thread: ``profile_chunks`` (the unsegmented hour) and ``profile_segmented_chunks`` (the
population and its 20 segments in the same read).

    .venv/bin/python -m benchmarks.segment_cost [--rows 1000000] [--segments 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.battery import machine_facts
from benchmarks.data import KINDS, TIMESTAMP, make_table
from benchmarks.table import Row, best_of, markdown
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks
from monitoring_pipelines.stats.segmented import profile_segmented_chunks
from monitoring_pipelines.stats.segments import SegmentKey

REFERENCE_ROWS = 100_000
CHUNK_ROWS = 100_000
TARGET_RATIO = 2.0


def _frame(rows: int, seed: int, segments: int) -> pd.DataFrame:
    frame = make_table(rows, seed).drop_columns([TIMESTAMP]).to_pandas()
    rng = np.random.default_rng(seed)
    names = np.array([f"r{i:02d}" for i in range(segments)], dtype=object)
    return frame.assign(region=names[rng.integers(0, segments, rows)])


def _seconds(step: Callable[[], object]) -> float:
    began = time.perf_counter()
    step()
    return time.perf_counter() - began


def segment_cost(
    rows: int = 1_000_000,
    segments: int = 20,
    repeats: int = 3,
    reference_rows: int = REFERENCE_ROWS,
    chunk_rows: int = CHUNK_ROWS,
) -> list[Row]:
    """Machine facts, the seconds of each way, and the segmented hour's ratio."""
    baseline = fit_baseline(_frame(reference_rows, 1, segments), KINDS)
    window = _frame(rows, 2, segments)
    chunks = [window.iloc[i : i + chunk_rows] for i in range(0, rows, chunk_rows)]
    key = [SegmentKey(("region",), max_values=max(segments, 1))]
    steps = {
        "unsegmented hour": lambda: profile_chunks(chunks, baseline),
        f"{segments} segments in the same read": lambda: profile_segmented_chunks(
            chunks, baseline, key
        ),
    }
    for step in steps.values():  # compile the kernels and warm the caches first
        step()
    timings: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            timings[name].append(_seconds(step))
    best = {name: best_of(seconds) for name, seconds in timings.items()}
    plain, segmented = best.values()
    ratio = segmented / plain
    part = f"segments ({rows:,} rows × {len(KINDS)} columns, chunks of {chunk_rows:,})"
    return [
        Row(part, "machine facts", machine_facts()),
        *(Row(part, name, f"{seconds:.3f} s") for name, seconds in best.items()),
        Row(
            part,
            f"{segments} segments / unsegmented",
            f"{segmented:.3f} s",
            f"{ratio:.2f}×",
            f"< {TARGET_RATIO}×",
            ratio < TARGET_RATIO,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(markdown(segment_cost(args.rows, args.segments, args.repeats)))


if __name__ == "__main__":
    main()
