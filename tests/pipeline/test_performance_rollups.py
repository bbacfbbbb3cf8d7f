"""Rolled-up performance windows (trailing 24 h, day, week) merged from the stored hours equal
scikit-learn on all the window's labelled rows (ROC AUC is not merged); latency percentiles of
the merged sketch are within its stated bound of numpy's; regression sums merge exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.pipeline.performance_rollups import rolled_up
from monitoring_pipelines.stats.performance import RegressionAccumulator
from tests.pipeline.test_performance_window import T0, H, config, expected_rows, world  # noqa: F401


@pytest.mark.parametrize("granularity", ["trailing_24h", "day", "week"])
def test_rolled_up_windows_equal_sklearn_on_their_rows(tmp_path, world, sqlite_engine, granularity):  # noqa: F811
    logs, labels, _ = world
    cfg = config(tmp_path)
    now = T0 + 100 * H
    performance_windows(cfg, sqlite_engine, [("fraud", T0), ("fraud", T0 + H)], now=now)
    window = rolled_up(sqlite_engine, cfg.deployments[0], granularity, T0 + H)
    rows = pd.concat(
        [
            expected_rows(logs, labels, T0, T0 + 49 * H),
            expected_rows(logs, labels, T0 + H, T0 + 50 * H),
        ]
    )
    performance = window.performance
    assert window.hours == 2 and performance.rows_scored == len(logs)
    assert performance.labelled_rows == len(rows)
    assert performance.metrics["accuracy"] == pytest.approx(sk.accuracy_score(rows.y, rows.pred))
    assert performance.metrics["f1"] == pytest.approx(sk.f1_score(rows.y, rows.pred))
    assert performance.metrics["f1_macro"] == pytest.approx(
        sk.f1_score(rows.y, rows.pred, average="macro")
    )
    assert performance.metrics["log_loss"] == pytest.approx(sk.log_loss(rows.y, rows.p))
    assert "roc_auc" not in performance.metrics  # a rank statistic: not mergeable
    exact = np.percentile(logs.ms, 95, method="lower")
    assert window.latency.quantile(0.95) == pytest.approx(
        exact, rel=window.latency.relative_accuracy
    )


def test_regression_sums_merge_exactly():
    rng = np.random.default_rng(4)
    y, pred = rng.normal(3, 2, 900), rng.normal(3, 2, 900)
    whole = RegressionAccumulator()
    whole.add(y, pred)
    merged = RegressionAccumulator()
    for part in np.array_split(np.arange(900), 3):
        hour = RegressionAccumulator()
        hour.add(y[part], pred[part])
        merged.merge_state(hour.result(len(part)).state)
    got, want = merged.result(900).metrics, whole.result(900).metrics
    assert got == pytest.approx(want)
    assert got["r2"] == pytest.approx(sk.r2_score(y, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, pred)))
