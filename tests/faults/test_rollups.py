"""Issue 14, item 3: re-running one past hour re-scores its day, week and trailing windows from
every stored hour of the window. It used to score the day on the hours up to the re-run one
(a day scored on 24 hours, re-run at 05:00, was then scored on 6), with no warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import load_config
from monitoring_pipelines.pipeline.aggregation import aggregate_windows, compute_baseline
from monitoring_pipelines.pipeline.drift import score_windows
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import get_engine

DAY = datetime(2026, 11, 4, 0, tzinfo=UTC)  # a Wednesday: the week starts two days earlier
H = timedelta(hours=1)
RERUN = DAY + 5 * H


def _write_hour(root: Path, hour: datetime, rows: int, rng: np.random.Generator) -> None:
    folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "c": rng.choice(["a", "b"], rows),
            "ts": hour + pd.to_timedelta(rng.uniform(0, 3599, rows), unit="s"),
        }
    ).to_parquet(folder / "part-0.parquet")


@pytest.fixture
def day_of_hours(tmp_path: Path, empty_store_url: str):
    """A deployment with 24 hours of logs (hour h has 100 + 10 h rows), all stored and scored."""
    rng = np.random.default_rng(14)
    pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)}).to_parquet(
        tmp_path / "reference.parquet"
    )
    rows = {DAY + h * H: 100 + 10 * h for h in range(24)}
    for hour, n in rows.items():
        _write_hour(tmp_path, hour, n, rng)
    path = tmp_path / "monitors.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"n_bins": 10},
                "deployments": [
                    {
                        "id": "rollup_model",
                        "reference": {"path": str(tmp_path / "reference.parquet")},
                        "logs": {
                            "type": "parquet",
                            "path": str(tmp_path / "logs"),
                            "timestamp_column": "ts",
                        },
                        "start": DAY.isoformat(),
                        "columns": [
                            {"name": "ts", "role": "timestamp"},
                            {"name": "x", "type": "numerical"},
                            {"name": "c", "type": "categorical"},
                        ],
                        "drift": {
                            "granularities": ["hour", "trailing_24h", "day", "week"],
                            "default_metrics": {"numerical": ["psi"], "categorical": ["tvd"]},
                        },
                    }
                ],
            }
        )
    )
    config = load_config(path)
    engine = get_engine(empty_store_url)
    compute_baseline(config, config.deployment("rollup_model"), engine)
    windows = [("rollup_model", hour) for hour in rows]
    aggregate_windows(config, engine, windows)
    score_windows(config, engine, windows)
    return config, engine, tmp_path, rows, rng


def _sizes(engine, granularity: str, start: datetime) -> set[int]:
    rows = read_drift_scores(engine, "rollup_model", start, start + H, granularity)
    assert rows, f"no {granularity} window at {start}"
    return {row["current_size"] for row in rows}


def test_rerun_of_one_hour_keeps_the_day_whole(day_of_hours) -> None:
    config, engine, root, rows, rng = day_of_hours
    assert _sizes(engine, "day", DAY) == {sum(rows.values())}

    rows[RERUN] = 37  # the hour's logs were replaced; re-run it alone
    _write_hour(root, RERUN, rows[RERUN], rng)
    aggregate_windows(config, engine, [("rollup_model", RERUN)])
    scored = score_windows(config, engine, [("rollup_model", RERUN)])

    total = sum(rows.values())  # counted independently, from the files' row numbers
    assert _sizes(engine, "hour", RERUN) == {37}
    assert _sizes(engine, "day", DAY) == {total}
    assert _sizes(engine, "week", DAY - 2 * 24 * H) == {total}
    # every trailing window that holds 05:00 is re-merged: the one ending at 05:00 ...
    assert _sizes(engine, "trailing_24h", RERUN - 23 * H) == {
        sum(n for hour, n in rows.items() if hour <= RERUN)
    }
    # ... and those ending at the 23 stored hours after it (05:00 to 04:00 of the next day)
    for end in range(6, 24):
        start = DAY + (end - 23) * H
        expected = sum(n for hour, n in rows.items() if start <= hour <= DAY + end * H)
        assert _sizes(engine, "trailing_24h", start) == {expected}
    granularities = sorted(s.granularity for s in scored)
    assert granularities == sorted(["hour", "day", "week"] + ["trailing_24h"] * 19)
    assert {s.rows for s in scored if s.granularity == "day"} == {total}
