"""Synthetic scoring logs for the benchmarks, written once to Parquet and reused.

25 columns like the issue asks: 20 numerical (about 1% missing, several shapes)
and 5 categorical with cardinalities 3 to 1000. Production rows are mildly
shifted from the reference so drift reports have something to find.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).resolve().parent / ".data"
N_NUMERICAL = 20
CARDINALITIES = (3, 10, 50, 200, 1000)
MISSING_SHARE = 0.01
ROW_GROUP = 1_000_000
FORMAT_VERSION = 1

HOUR = datetime(2025, 1, 1, tzinfo=UTC)
TIMESTAMP = "timestamp"
NUMERICAL = [f"num_{i:02d}" for i in range(N_NUMERICAL)]
CATEGORICAL = [f"cat_{i}" for i in range(len(CARDINALITIES))]
FEATURES = NUMERICAL + CATEGORICAL
KINDS = {name: "numerical" for name in NUMERICAL} | {name: "categorical" for name in CATEGORICAL}


def _numerical(rng: np.random.Generator, i: int, n: int, shift: float) -> np.ndarray:
    shape = i % 4
    if shape == 0:
        values = rng.normal(shift, 1.0, n)
    elif shape == 1:
        values = rng.lognormal(shift, 0.75, n)
    elif shape == 2:
        values = rng.uniform(shift, 10.0 + shift, n)
    else:
        values = rng.poisson(3.0 + shift, n).astype(np.float64)
    values[rng.random(n) < MISSING_SHARE] = np.nan
    return values


def _categorical(rng: np.random.Generator, cardinality: int, n: int, shift: float) -> pa.Array:
    weights = 1.0 / np.arange(1, cardinality + 1) ** (1.0 - shift)
    codes = rng.choice(cardinality, size=n, p=weights / weights.sum()).astype(np.int32)
    labels = pa.array([f"v{j}" for j in range(cardinality)], type=pa.string())
    return pc.take(labels, pa.array(codes))


def make_table(n_rows: int, seed: int, shift: float = 0.0) -> pa.Table:
    """``n_rows`` rows of the 25 benchmark columns; ``shift`` moves every distribution a little."""
    rng = np.random.default_rng(seed)
    arrays = [pa.array(_numerical(rng, i, n_rows, shift)) for i in range(N_NUMERICAL)]
    arrays += [_categorical(rng, c, n_rows, shift) for c in CARDINALITIES]
    start_us = int(HOUR.timestamp()) * 1_000_000
    stamps = start_us + rng.integers(0, 3_600_000_000, n_rows)
    arrays.append(pa.array(stamps, type=pa.timestamp("us", tz="UTC")))
    return pa.table(arrays, names=[*FEATURES, TIMESTAMP])


def log_root(n_rows: int, kind: str, data_dir: Path = DATA_DIR) -> Path:
    """Hive-style log folder (``date=/hour=``) holding one hour of ``n_rows`` rows of ``kind``."""
    return data_dir / f"{kind}-{n_rows}-v{FORMAT_VERSION}"


def parquet(n_rows: int, kind: str, data_dir: Path = DATA_DIR) -> Path:
    """The Parquet file of ``kind`` ("reference" or "production"), written on first use.

    It lies in :func:`log_root`'s folder for the hour :data:`HOUR`, so the project's
    Parquet log source can read it too.
    """
    if kind not in ("reference", "production"):
        raise ValueError(f"kind must be 'reference' or 'production', got {kind!r}")
    seed, shift = (1, 0.0) if kind == "reference" else (2, 0.1)
    folder = log_root(n_rows, kind, data_dir) / f"date={HOUR:%Y-%m-%d}" / f"hour={HOUR:%H}"
    path = folder / "part-0.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with pq.ParquetWriter(partial, make_table(0, seed).schema) as writer:
        for start in range(0, n_rows, ROW_GROUP):
            size = min(ROW_GROUP, n_rows - start)
            writer.write_table(make_table(size, seed * 1_000_003 + start, shift))
    partial.rename(path)
    return path


def one_group(n_rows: int, data_dir: Path = DATA_DIR) -> Path:
    """The log folder of the production hour of ``n_rows`` rewritten as one row group (written
    on first use): a writer that does not split its hour, for part 3's memory bound."""
    root = data_dir / f"production-{n_rows}-one-group-v{FORMAT_VERSION}"
    path = root / f"date={HOUR:%Y-%m-%d}" / f"hour={HOUR:%H}" / "part-0.parquet"
    if path.exists():
        return root
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    pq.write_table(
        pq.read_table(parquet(n_rows, "production", data_dir)), partial, row_group_size=n_rows
    )
    partial.rename(path)
    return root
