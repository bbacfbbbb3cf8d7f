"""A small deployment on disk (reference, a few hours of Parquet logs, monitors.yaml) for
exercising the Dagster layer end to end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import MonitorsConfig, load_config
from tests.alerts.conftest import aws_env, fake_slack, moto, moto_url, slack_token  # noqa: F401

START = datetime(2026, 11, 2, 0, tzinfo=UTC)
HOURS = 3


@dataclass
class TinyDeployment:
    config_path: Path
    config: MonitorsConfig
    database_url: str
    logs: dict[datetime, pd.DataFrame]


def _rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3 + shift, 0.5, n),
            "tenure": rng.integers(0, 5, n).astype(float),
            "segment": rng.choice(["retail", "sme", "corporate"], n, p=[0.6, 0.3, 0.1]),
            "predicted_class": rng.choice(["0", "1"], n, p=[0.8, 0.2]),
            "confidence": rng.uniform(0.5, 1.0, n),
        }
    )


@pytest.fixture
def tiny_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyDeployment:
    rng = np.random.default_rng(11)
    root = tmp_path / "data"
    root.mkdir()
    _rows(rng, 3000).to_parquet(root / "reference.parquet")
    logs = {}
    for h in range(HOURS):
        hour = START + timedelta(hours=h)
        frame = _rows(rng, 200 + 50 * h, shift=0.5 * (h == HOURS - 1))
        frame["scored_at"] = hour + pd.to_timedelta(rng.uniform(0, 3599, len(frame)), unit="s")
        folder = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True)
        frame.to_parquet(folder / "part-00000.parquet")
        logs[hour] = frame
    config = {
        "defaults": {"n_bins": 10, "chunk_rows": 64},
        "deployments": [
            {
                "id": "tiny_model",
                "reference": {"path": "data/reference.parquet"},
                "logs": {"type": "parquet", "path": "data/logs", "timestamp_column": "scored_at"},
                "start": START.isoformat(),
                "columns": [
                    {"name": "scored_at", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "tenure", "type": "numerical"},
                    {"name": "segment", "type": "categorical"},
                    {"name": "predicted_class", "type": "categorical", "role": "prediction"},
                    {"name": "confidence", "type": "numerical", "role": "confidence"},
                ],
            }
        ],
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    url = f"sqlite:///{tmp_path / 'monitoring.db'}"
    monkeypatch.setenv("MONITORING_DATABASE_URL", url)
    monkeypatch.setenv("MONITORS_CONFIG", str(path))
    return TinyDeployment(path, load_config(path), url, logs)
