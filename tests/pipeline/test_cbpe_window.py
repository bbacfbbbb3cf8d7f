"""CBPE in the pipeline: the baseline fits the calibration on the validation set; every scored
hour gets an estimate (kind estimated) before any label arrives; on a calibrated model without
concept drift the estimated accuracy is within its band of the realized one in at least 90 %
of hours, and after an injected concept drift the gap is visible; the retraining rule on the
estimate fires after K hours below its floor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as sk
from sqlalchemy import select

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.pipeline.aggregation import compute_baseline
from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.pipeline.retraining import evaluate_retraining
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.store.performance import (
    CBPE_REFERENCE,
    read_baseline_performance,
    window_values,
)
from monitoring_pipelines.store.schema import model_performance
from tests.pipeline.test_performance_window import T0, H, config

HOURS, ROWS, DRIFT_FROM = 40, 600, 30


def write_world(tmp_path, seed: int = 21) -> pd.DataFrame:
    """A calibrated model (score = the true probability), a validation set, HOURS hours of
    logs and labels for every request arriving 2 h later; from hour DRIFT_FROM the label
    relationship changes (a third of outcomes inverted): concept drift, inputs unchanged."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 2.5, 4000)
    pd.DataFrame(
        {"x": rng.normal(size=4000), "pred": (p >= 0.5).astype(int), "p": p,
         "y": (rng.uniform(size=4000) < p).astype(int)}
    ).to_parquet(tmp_path / "validation.parquet")  # fmt: skip
    q = rng.beta(2.0, 2.5, 4000)  # the training set: drift is judged on it, not CBPE
    pd.DataFrame({"x": rng.normal(size=4000), "pred": (q >= 0.5).astype(int), "p": q}).to_parquet(
        tmp_path / "ref.parquet"
    )
    frames, labels = [], []
    for hour in range(HOURS):
        p = rng.beta(2.0, 2.5, ROWS)
        y = (rng.uniform(size=ROWS) < p).astype(int)
        if hour >= DRIFT_FROM:
            y = np.where(rng.uniform(size=ROWS) < 0.33, 1 - y, y)
        start = T0 + hour * H
        frame = pd.DataFrame(
            {
                "rid": [f"h{hour}-{i}" for i in range(ROWS)],
                "ts": pd.to_datetime(start) + pd.to_timedelta(rng.uniform(0, 3599, ROWS), "s"),
                "x": rng.normal(size=ROWS),
                "pred": (p >= 0.5).astype(int),
                "p": p,
                "ms": rng.lognormal(3, 0.5, ROWS),
            }
        )
        folder = hour_folder(tmp_path / "logs", start)
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "a.parquet")
        frames.append(frame.assign(y=y, hour=hour))
        labels.append(
            pd.DataFrame({"rid": frame.rid, "y": y, "at": frame.ts + pd.Timedelta(2, "h")})
        )
    (tmp_path / "labels").mkdir()
    pq.write_table(pa.Table.from_pandas(pd.concat(labels), preserve_index=False),
                   tmp_path / "labels/l.parquet")  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def deployment_config(tmp_path, retraining: dict | None = None):
    data = config(tmp_path).model_dump(mode="json")
    data["deployments"][0]["validation"] = {"path": str(tmp_path / "validation.parquet")}
    if retraining:
        data["deployments"][0]["retraining"] = retraining
    return parse_config(data)


def estimated_rows(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            select(model_performance).where(
                model_performance.c.kind == "estimated", model_performance.c.metric == "accuracy"
            )
        ).mappings()
        return {r["window_start"].replace(tzinfo=T0.tzinfo): r for r in rows}


def test_estimated_beside_realized_within_the_band_until_concept_drift(tmp_path, sqlite_engine):
    logs = write_world(tmp_path)
    cfg = deployment_config(tmp_path)
    compute_baseline(cfg, cfg.deployments[0], sqlite_engine)
    reference = read_baseline_performance(sqlite_engine, "fraud").details[CBPE_REFERENCE]
    assert reference["calibrator"]["method"] == "identity"  # calibrated: isotonic not used

    windows = [("fraud", T0 + h * H) for h in range(HOURS)]
    performance_windows(cfg, sqlite_engine, windows[:1], now=T0 + H)  # no label arrived yet
    early = estimated_rows(sqlite_engine)[T0]
    assert early["n_scored"] == ROWS and 0.5 < early["value"] < 0.9

    performance_windows(cfg, sqlite_engine, windows, now=T0 + (HOURS + 3) * H)
    estimated = estimated_rows(sqlite_engine)
    realized = {s: v for s, m, v in window_values(sqlite_engine, "fraud", T0, T0 + HOURS * H)
                if m == "accuracy"}  # fmt: skip
    inside, gaps = [], []
    for hour in range(HOURS):
        start = T0 + hour * H
        rows = logs[logs.hour == hour]
        assert realized[start] == pytest.approx(sk.accuracy_score(rows.y, rows.pred))
        band = estimated[start]["details"]
        within = band["lower"] <= realized[start] <= band["upper"]
        (inside if hour < DRIFT_FROM else gaps).append(within)
        p = rows.p.to_numpy()  # the expectation by hand: P(correct) = p or 1 - p
        expected = np.mean(np.where(rows.pred == 1, p, 1 - p))
        assert estimated[start]["value"] == pytest.approx(expected)
    assert np.mean(inside) >= 0.9
    assert not any(gaps)  # concept drift: realized falls out of the band every hour
    drifted_gap = np.mean([estimated[T0 + h * H]["value"] - realized[T0 + h * H]
                           for h in range(DRIFT_FROM, HOURS)])  # fmt: skip
    assert drifted_gap > 0.1


def test_the_estimated_floor_rule_fires_after_k_hours(tmp_path, sqlite_engine):
    write_world(tmp_path)
    rules = {"estimated_accuracy_floor": 0.99, "estimated_hours": 3, "dry_run": True}
    cfg = deployment_config(tmp_path, rules)
    deployment = cfg.deployments[0]
    compute_baseline(cfg, deployment, sqlite_engine)
    windows = [("fraud", T0 + h * H) for h in range(3)]
    performance_windows(cfg, sqlite_engine, windows[:2], now=T0 + 2 * H)
    held = evaluate_retraining(sqlite_engine, deployment, T0 + 2 * H).decision
    assert not held.retrain and "for 2 consecutive hours" in held.reasons[0]
    performance_windows(cfg, sqlite_engine, windows, now=T0 + 3 * H)
    fired = evaluate_retraining(sqlite_engine, deployment, T0 + 3 * H).decision
    assert fired.retrain
    assert fired.reasons[0].startswith("estimated accuracy below 0.99 for 3 consecutive hours")
