"""The demo's retraining callable (``retraining.callable`` in monitors.yaml): retrain the credit
model on the recent labelled traffic and make it the new baseline.

It joins the scoring logs of the last ``RECENT_HOURS`` stored hours with the labels that have
arrived, trains a new model on 70 % of them, scores both parts with it, keeps the previous
reference and model under ``retrained/``, writes the new reference (training part) and
validation set (held-out part) where monitors.yaml points, and fits ``baseline_statistics``
from them: a new baseline version, the old one still queryable. Drift and performance are
judged against it from then on.
"""

from __future__ import annotations

import pickle
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring_pipelines.config import Role, load_config
from monitoring_pipelines.demo.model import score, train_model
from monitoring_pipelines.pipeline.aggregation import compute_baseline, log_source
from monitoring_pipelines.pipeline.performance import label_source
from monitoring_pipelines.sources.labels import ARRIVED_AT, LABEL, REQUEST_ID
from monitoring_pipelines.store.aggregates import baseline_timestamps
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.performance import read_baseline_performance, stored_windows

RECENT_HOURS = 12
TRAIN_SHARE = 0.7
MIN_ROWS = 200
SEED = 0
ARCHIVE = "retrained"
OUTPUTS = ("predicted_class", "confidence", "score")


def recent_labelled(config, deployment, engine) -> pd.DataFrame:
    """The last ``RECENT_HOURS`` stored hours' logged rows that have a label, with it."""
    since = pd.Timestamp("1970-01-01", tz="UTC").to_pydatetime()
    hours = sorted(stored_windows(engine, deployment.id, since, _far_future()))
    if not hours:
        raise RuntimeError(f"{deployment.id}: no stored hour to retrain on")
    start, end = hours[-1] - timedelta(hours=RECENT_HOURS - 1), hours[-1] + timedelta(hours=1)
    logs = pd.concat(list(log_source(config, deployment).read_window(start, end)))
    arrived = label_source(config, deployment).read_arrived(start, _far_future())
    labels = pd.concat(list(arrived)).sort_values(ARRIVED_AT, kind="stable")
    request_id = deployment.column_with_role(Role.REQUEST_ID).name
    label = deployment.column_with_role(Role.LABEL).name
    latest = labels.drop_duplicates(REQUEST_ID, keep="last").set_index(REQUEST_ID)[LABEL]
    logs[request_id] = logs[request_id].astype(str)
    joined = logs.reset_index(drop=True).join(latest.rename(label), on=request_id, how="inner")
    if len(joined) < MIN_ROWS:
        raise RuntimeError(
            f"{deployment.id}: {len(joined)} labelled rows in the last {RECENT_HOURS} hours, "
            f"fewer than the {MIN_ROWS} needed to retrain"
        )
    return joined


def _far_future():
    return pd.Timestamp("2262-01-01", tz="UTC").to_pydatetime()


def retrain_demo_model(deployment_id: str, reasons: list[str]) -> dict[str, Any]:
    """Retrain, write the new model, reference and validation set, fit the new baseline."""
    config = load_config()
    deployment = config.deployment(deployment_id)
    engine = get_engine()
    rows = recent_labelled(config, deployment, engine)
    label = deployment.column_with_role(Role.LABEL).name
    outcome = rows[label].astype(int).to_numpy()
    order = np.random.default_rng(SEED).permutation(len(rows))
    cut = int(len(rows) * TRAIN_SHARE)
    train, held = rows.iloc[order[:cut]], rows.iloc[order[cut:]]
    model = train_model(train, outcome[order[:cut]], SEED)
    version = len(baseline_timestamps(engine, deployment_id)) + 1
    reference_path, validation_path = deployment.reference.path, deployment.validation.path
    archive = reference_path.parent / ARCHIVE
    archive.mkdir(exist_ok=True)
    for path in (reference_path, validation_path):
        if path.exists():
            shutil.copy2(path, archive / f"{path.stem}-v{version - 1}{path.suffix}")
    features = [c.name for c in deployment.columns if c.role is Role.FEATURE]
    for part, path in ((train, reference_path), (held, validation_path)):
        frame = part[features].reset_index(drop=True)
        frame[label] = part[label].astype(int).to_numpy()
        pd.concat([frame, score(model, frame)], axis=1).to_parquet(path, index=False)
    model_file(reference_path, version).write_bytes(pickle.dumps(model))
    compute_baseline(config, deployment, engine)
    baseline = read_baseline_performance(engine, deployment_id)
    return {
        "model_version": version,
        "baseline_version": baseline.version.isoformat() if baseline else None,
        "training_rows": len(train),
        "validation_rows": len(held),
        "validation_accuracy": baseline.metrics.get("accuracy") if baseline else None,
        "reasons": len(reasons),
    }


def deploy_model(logs: Path, model_path: Path, start: datetime) -> int:
    """Serve the retrained model from ``start``: re-score the logged requests of the hours
    from then on with it (the demo's traffic was generated in advance); returns the rows."""
    model = pickle.loads(model_path.read_bytes())
    rows = 0
    for path in sorted(logs.rglob("*.parquet")):
        frame = pd.read_parquet(path)
        stamps = pd.to_datetime(frame["scored_at"], utc=True)
        if frame.empty or stamps.min() < pd.Timestamp(start):
            continue
        frame[list(OUTPUTS)] = score(model, frame)[list(OUTPUTS)].to_numpy()
        frame.to_parquet(path, index=False)
        rows += len(frame)
    return rows


def model_file(reference: Path, version: int) -> Path:
    """Where retraining wrote model ``version``."""
    return reference.parent / ARCHIVE / f"model-v{version}.pkl"
