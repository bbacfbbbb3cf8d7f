"""Baseline performance: the validation set's numbers (not the training set's), fitted with the
baseline as a new version (old versions stay queryable); each window is compared with it and
the retraining rule "worse than the baseline by a margin" uses it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from monitoring_pipelines.config import ConfigError, parse_config
from monitoring_pipelines.pipeline.aggregation import compute_baseline
from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.pipeline.retraining import evaluate_retraining
from monitoring_pipelines.stats.retraining import (
    RetrainingPolicy,
    VersusBaseline,
    decide_retraining,
)
from monitoring_pipelines.store.performance import (
    baseline_versions,
    read_baseline_performance,
    window_values,
)
from tests.pipeline.test_performance_window import T0, H, config, world  # noqa: F401


def with_validation(tmp_path, retraining: dict | None = None):
    """The window tests' deployment with a training reference the model fits perfectly and
    a validation set where it does not."""
    rng = np.random.default_rng(5)
    p = rng.uniform(size=3000)
    pred = (p > 0.5).astype(int)
    pd.DataFrame({"x": rng.normal(size=3000), "pred": pred, "p": p, "y": pred}).to_parquet(
        tmp_path / "ref.parquet"
    )
    truth = (rng.uniform(size=3000) < p).astype(int)
    validation = pd.DataFrame({"x": rng.normal(size=3000), "pred": pred, "p": p, "y": truth})
    validation.loc[:99, "y"] = None  # unlabelled rows are left out
    validation.to_parquet(tmp_path / "validation.parquet")
    data = config(tmp_path).model_dump(mode="json")
    data["deployments"][0]["validation"] = {"path": str(tmp_path / "validation.parquet")}
    if retraining:
        data["deployments"][0]["retraining"] = retraining
    return parse_config(data), validation.iloc[100:]


def test_the_baseline_is_the_validation_set_and_versions_are_kept(tmp_path, sqlite_engine):
    cfg, labelled = with_validation(tmp_path)
    deployment = cfg.deployments[0]
    compute_baseline(cfg, deployment, sqlite_engine)
    first = read_baseline_performance(sqlite_engine, "fraud")
    y, pred = labelled.y.astype(int), labelled.pred
    assert first.n_labelled == 2900
    assert first.metrics["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert first.metrics["accuracy"] < 0.9  # the training set would say 1.0
    assert first.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(y, labelled.p))
    assert first.metrics["f1"] == pytest.approx(sk.f1_score(y, pred))

    compute_baseline(cfg, deployment, sqlite_engine)
    versions = baseline_versions(sqlite_engine, "fraud")
    assert len(versions) == 2 and versions[0] == first.version
    assert read_baseline_performance(sqlite_engine, "fraud").version == versions[1]
    kept = read_baseline_performance(sqlite_engine, "fraud", versions[0])
    assert kept.metrics == first.metrics


def test_each_window_is_compared_with_the_latest_baseline(tmp_path, world, sqlite_engine):  # noqa: F811
    cfg, _ = with_validation(tmp_path)
    compute_baseline(cfg, cfg.deployments[0], sqlite_engine)
    baseline = read_baseline_performance(sqlite_engine, "fraud")
    (summary,) = performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + 60 * H)
    values = {m: v for _, m, v in window_values(sqlite_engine, "fraud", T0, T0 + H)}
    expected = summary.performance.metrics["accuracy"] - baseline.metrics["accuracy"]
    assert values["vs_baseline"] == pytest.approx(expected)
    assert summary.baseline == baseline


def test_worse_than_the_baseline_by_the_margin_asks_for_retraining(tmp_path, world, sqlite_engine):  # noqa: F811
    rules = {"baseline_margin": 0.02, "dry_run": True}
    cfg, _ = with_validation(tmp_path, rules)
    deployment = cfg.deployments[0]
    compute_baseline(cfg, deployment, sqlite_engine)
    baseline = read_baseline_performance(sqlite_engine, "fraud").metrics["accuracy"]
    (summary,) = performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + 60 * H)
    accuracy = summary.performance.metrics["accuracy"]
    outcome = evaluate_retraining(sqlite_engine, deployment, T0 + H)
    worse = baseline - accuracy
    assert outcome.decision.retrain is (worse > 0.02)
    assert outcome.decision.reasons[0].startswith(f"accuracy {accuracy:.4g} vs baseline")


def test_the_margin_rule_alone():
    policy = RetrainingPolicy(baseline_margin=0.05)
    kwargs = {"accuracy": None, "drift": [], "alerting_windows": []}
    drop = decide_retraining(
        "m", policy, **kwargs, versus_baseline=VersusBaseline("accuracy", 0.74, 0.80)
    )
    assert drop.retrain
    assert drop.reasons == ("accuracy 0.74 vs baseline 0.8: worse by 0.06 > margin 0.05",)
    near = decide_retraining(
        "m", policy, **kwargs, versus_baseline=VersusBaseline("accuracy", 0.76, 0.80)
    )
    assert not near.retrain
    rmse = decide_retraining(
        "m", policy, **kwargs, versus_baseline=VersusBaseline("rmse", 1.3, 1.2)
    )
    assert rmse.retrain  # a higher RMSE is worse
    unknown = decide_retraining("m", policy, **kwargs, versus_baseline=None)
    assert not unknown.retrain and "no baseline performance" in unknown.reasons[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("labels"), r"validation needs a labels block"),
        (
            lambda d: d.update(retraining={"baseline_margin": 1.5, "dry_run": True}),
            r"retraining.baseline_margin 1.5 on accuracy must be below 1",
        ),
        (
            lambda d: (
                d.pop("validation"),
                d.update(retraining={"baseline_margin": 0.1, "dry_run": True}),
            ),
            r"retraining.baseline_margin needs a validation block",
        ),
        (
            lambda d: d.update(retraining={"baseline_margin": "x", "dry_run": True}),
            r"retraining\.baseline_margin",
        ),
    ],
)
def test_bad_baseline_settings_name_the_field(tmp_path, change, message):
    data = config(tmp_path).model_dump(mode="json")
    deployment = data["deployments"][0]
    deployment["validation"] = {"path": "validation.parquet"}
    change(deployment)
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_a_validation_set_without_the_label_column_is_named(tmp_path, sqlite_engine):
    cfg, _ = with_validation(tmp_path)
    pd.DataFrame({"x": [1.0], "pred": [1]}).to_parquet(tmp_path / "validation.parquet")
    with pytest.raises(ValueError, match=r"validation set .* lacks column\(s\) \['y'\]"):
        compute_baseline(cfg, cfg.deployments[0], sqlite_engine)
