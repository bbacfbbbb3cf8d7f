"""Part 5's deployment on disk: reference data, a month of hourly Parquet logs, monitors.yaml.

15 numerical and 5 categorical features from :func:`benchmarks.data.make_table`, plus a
predicted class and a confidence, laid out as the project expects
(``logs/date=YYYY-MM-DD/hour=HH/part-0.parquet``). Written once and reused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from benchmarks.data import CATEGORICAL, DATA_DIR, NUMERICAL, make_table

DEPLOYMENT = "bench_backfill"
START = datetime(2025, 1, 1, tzinfo=UTC)
TIMESTAMP = "scored_at"
FEATURES_NUMERICAL = NUMERICAL[:15]
PREDICTION = "predicted_class"
CONFIDENCE = "confidence"
FORMAT_VERSION = 1


def _frame(n_rows: int, seed: int, shift: float) -> pa.Table:
    """The features of ``n_rows`` rows, with a predicted class and a confidence."""
    table = make_table(n_rows, seed, shift).select([*FEATURES_NUMERICAL, *CATEGORICAL])
    rng = np.random.default_rng(seed + 7)
    positive = rng.random(n_rows) < 0.2 + shift
    confidence = rng.beta(8.0, 2.0 + 10 * shift, n_rows)
    table = table.append_column(PREDICTION, pa.array(np.where(positive, "1", "0")))
    return table.append_column(CONFIDENCE, pa.array(confidence))


def deployment_dir(days: int, rows_per_hour: int, data_dir: Path = DATA_DIR) -> Path:
    """The folder of one generated month (it holds ``reference.parquet`` and ``logs/``)."""
    return data_dir / f"backfill-{days}d-{rows_per_hour}-v{FORMAT_VERSION}"


def hours(days: int) -> list[datetime]:
    """Every hour start of the generated period."""
    return [START + timedelta(hours=h) for h in range(24 * days)]


def write_deployment(
    days: int, rows_per_hour: int, reference_rows: int, data_dir: Path = DATA_DIR
) -> Path:
    """Write the reference and every hour's logs unless they exist; return the folder."""
    folder = deployment_dir(days, rows_per_hour, data_dir)
    done = folder / "complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(_frame(reference_rows, 1, 0.0), folder / "reference.parquet")
    for index, hour in enumerate(hours(days)):
        table = _frame(rows_per_hour, 10_000 + index, 0.05 * (index / (24 * days)))
        start_us = int(hour.timestamp()) * 1_000_000
        offsets = np.random.default_rng(index).integers(0, 3_600_000_000, rows_per_hour)
        table = table.append_column(
            TIMESTAMP, pa.array(start_us + offsets, pa.timestamp("us", "UTC"))
        )
        target = folder / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / "part-0.parquet")
    done.touch()
    return folder


def write_config(folder: Path, quality_checks: bool) -> Path:
    """monitors.yaml for the deployment, with or without the great-expectations checks."""
    columns = (
        [{"name": TIMESTAMP, "role": "timestamp"}]
        + [{"name": n, "type": "numerical"} for n in FEATURES_NUMERICAL]
        + [{"name": c, "type": "categorical"} for c in CATEGORICAL]
        + [
            {"name": PREDICTION, "type": "categorical", "role": "prediction"},
            {"name": CONFIDENCE, "type": "numerical", "role": "confidence"},
        ]
    )
    config = {
        "defaults": {"quality_checks": quality_checks},
        "deployments": [
            {
                "id": DEPLOYMENT,
                "reference": {"path": str(folder / "reference.parquet")},
                "logs": {
                    "type": "parquet",
                    "path": str(folder / "logs"),
                    "timestamp_column": TIMESTAMP,
                },
                "start": START.isoformat(),
                "columns": columns,
            }
        ],
    }
    path = folder / f"monitors-checks-{'on' if quality_checks else 'off'}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
