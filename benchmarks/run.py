"""``make bench``: run the benchmark parts, print one table of figures and ratios, save it.

Usage: ``.venv/bin/python -m benchmarks.run [--quick] [--parts 1,2,...,11] [--no-install]``
from the repository root. The table also goes to ``benchmarks/results.md`` (or
``--output``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from benchmarks import data, venvs
from benchmarks.backfill import BackfillSizes, backfill
from benchmarks.battery import BatterySizes, battery
from benchmarks.drift_cost import drift_cost
from benchmarks.end_to_end import end_to_end
from benchmarks.fleet_scoring import fleet_scoring
from benchmarks.memory import memory_bounded
from benchmarks.peers import peers_side_by_side
from benchmarks.scaling import scaling_curve
from benchmarks.segment_cost import segment_cost
from benchmarks.split_backfill import split_backfill
from benchmarks.table import Row, markdown
from benchmarks.throughput import profile_throughput

PARTS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11")
RESULTS = Path(__file__).resolve().parent / "results.md"


@dataclass(frozen=True)
class Sizes:
    """Row counts of every part; ``QUICK`` keeps the whole run to seconds."""

    reference: int
    window: int
    memory: tuple[int, int]
    scaling: tuple[int, ...]
    chunk_rows: int
    repeats: int
    backfill: BackfillSizes
    deployments: int
    battery: BatterySizes
    bins: tuple[int, ...] = (10, 20, 100)


FULL = Sizes(
    reference=100_000,
    window=1_000_000,
    memory=(1_000_000, 10_000_000),
    scaling=(10_000, 100_000, 1_000_000, 10_000_000),
    chunk_rows=100_000,
    repeats=5,
    backfill=BackfillSizes(
        days=30, rows_per_hour=10_000, reference_rows=100_000, sample_hours=10, launched_hours=4
    ),
    deployments=100,
    battery=BatterySizes(),
)
QUICK = Sizes(
    reference=2_000,
    window=5_000,
    memory=(5_000, 20_000),
    scaling=(1_000, 2_000, 5_000, 10_000),
    chunk_rows=1_000,
    repeats=1,
    backfill=BackfillSizes(
        days=1, rows_per_hour=200, reference_rows=2_000, sample_hours=2, launched_hours=1
    ),
    deployments=3,
    battery=BatterySizes(window=5_000, reference=2_000, repeats=1),
)


def machine() -> str:
    """One line naming the machine and the software the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    blas = os.environ.get("OPENBLAS_CORETYPE", "unset")
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB; Python {platform.python_version()}, "
        f"numpy {version('numpy')}, pandas {version('pandas')}, pyarrow {version('pyarrow')}; "
        f"OPENBLAS_CORETYPE={blas}; load average at start {os.getloadavg()[0]:.1f}"
    )


def _parts(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown} (valid: {', '.join(PARTS)})")
    return parts


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--parts", type=_parts, default=list(PARTS), help="e.g. 1,3,7")
    parser.add_argument("--no-install", action="store_true", help="skip peers without a venv")
    parser.add_argument("--data-dir", type=Path, default=data.DATA_DIR)
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> list[Row]:
    """Prepare data (and peer venvs, in the background), then run the chosen parts."""
    sizes = QUICK if args.quick else FULL
    pythons: dict[str, str | None] = {}
    installer = threading.Thread(
        target=lambda: pythons.update(venvs.ensure_all(create=not args.no_install))
    )
    if "2" in args.parts:
        installer.start()
    reference_path = data.parquet(sizes.reference, "reference", args.data_dir)
    window_path = data.parquet(sizes.window, "production", args.data_dir)
    for rows in {*sizes.memory, max(sizes.scaling)}:
        data.parquet(rows, "production", args.data_dir)
    reference = pd.read_parquet(reference_path, columns=data.FEATURES)
    rows: list[Row] = []
    if "1" in args.parts:
        window = pd.read_parquet(window_path, columns=data.FEATURES)
        rows += profile_throughput(reference, window, sizes.repeats)
    if "2" in args.parts:
        installer.join()
        rows += peers_side_by_side(reference_path, window_path, pythons, sizes.window)
    if "3" in args.parts:
        roots = {n: data.log_root(n, "production", args.data_dir) for n in sizes.memory}
        one_group = data.one_group(max(sizes.memory), args.data_dir)
        rows += memory_bounded(reference_path, roots, sizes.chunk_rows, one_group=one_group)
    if "4" in args.parts:
        root = data.log_root(sizes.window, "production", args.data_dir)
        rows += end_to_end(reference, window_path, root, sizes.chunk_rows)
    if "5" in args.parts:
        rows += backfill(sizes.backfill, args.data_dir)
    if "6" in args.parts:
        folder = args.data_dir / "drift-cost"
        folder.mkdir(parents=True, exist_ok=True)
        rows += drift_cost(folder, sizes.deployments)
    if "7" in args.parts:
        largest = data.parquet(max(sizes.scaling), "production", args.data_dir)
        production = pd.read_parquet(largest, columns=data.FEATURES)
        rows += scaling_curve(
            reference, production, sizes.scaling, sizes.bins, sizes.window, sizes.repeats
        )
    if "8" in args.parts:
        rows += battery(sizes.battery)
    if "9" in args.parts:
        folder = args.data_dir / "fleet-scoring"
        folder.mkdir(parents=True, exist_ok=True)
        rows += fleet_scoring(folder, sizes.deployments, sizes.repeats if args.quick else 3)
    if "10" in args.parts:
        rows += segment_cost(
            sizes.window, 20, max(sizes.repeats, 3), sizes.reference, sizes.chunk_rows
        )
    if "11" in args.parts:
        month = sizes.backfill
        rows += split_backfill(
            month.days,
            month.rows_per_hour,
            [1] if args.quick else [1, 2],
            ["sqlite"] if args.quick else ["sqlite", "postgres"],
            month.reference_rows,
            args.data_dir,
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    started = time.perf_counter()
    header = machine()
    rows = run(args)
    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command.strip()}` "
            f"in {time.perf_counter() - started:.0f} s.",
            "",
            f"Machine: {header}.",
            "",
            markdown(rows),
            "",
        ]
    )
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
