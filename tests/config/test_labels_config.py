"""monitors.yaml ``labels`` block: where labels are, the task, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_pipelines.config import ConfigError, ParquetLabels, SqlLabels, parse_config


def _valid(labels: dict | None = None, label_type: str = "categorical") -> dict:
    return {
        "deployments": [
            {
                "id": "fraud_v2",
                "reference": {"path": "ref.parquet"},
                "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
                "start": "2026-11-01T00:00:00Z",
                "columns": [
                    {"name": "ts", "role": "timestamp"},
                    {"name": "rid", "role": "request_id"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "pred", "type": label_type, "role": "prediction"},
                    {"name": "is_fraud", "type": label_type, "role": "label"},
                ],
                "labels": labels
                or {
                    "type": "parquet",
                    "path": "labels",
                    "arrival_column": "labelled_at",
                    "task": "binary",
                    "positive_class": "1",
                },
            }
        ]
    }


def test_parquet_labels_resolve_and_default_the_horizon(tmp_path):
    labels = parse_config(_valid(), base=tmp_path).deployments[0].labels
    assert isinstance(labels, ParquetLabels)
    assert labels.path == tmp_path / "labels"
    assert (labels.task, labels.positive_class, labels.label_horizon_hours) == ("binary", "1", 168)


def test_sql_labels_and_regression():
    data = _valid(
        {
            "type": "sql",
            "url_env": "LABELS_URL",
            "table": "ground_truth",
            "arrival_column": "arrived",
            "task": "regression",
            "label_horizon_hours": 48,
        },
        label_type="numerical",
    )
    labels = parse_config(data).deployments[0].labels
    assert isinstance(labels, SqlLabels) and labels.label_horizon_hours == 48


def test_no_labels_block_is_allowed():
    data = _valid()
    data["deployments"][0].pop("labels")
    assert parse_config(data).deployments[0].labels is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["labels"].pop("positive_class"),
            r"deployments\[0\]\.labels: .*task binary needs positive_class",
        ),
        (lambda d: d["labels"].update(task="ranking"), r"deployments\[0\]\.labels\.task"),
        (
            lambda d: d["labels"].update(task="multiclass"),
            r"positive_class is only for task binary, not multiclass",
        ),
        (lambda d: d["labels"].update(label_horizon_hours=0), r"labels\.label_horizon_hours"),
        (lambda d: d["labels"].pop("arrival_column"), r"labels\.arrival_column: Field required"),
        (lambda d: d["labels"].update(type="s3"), r"deployments\[0\]\.labels"),
        (lambda d: d["labels"].update(pth="x"), r"labels\.pth: Extra"),
        (
            lambda d: d["columns"].pop(1),
            r"deployments\[0\]: .*labels need a column with role request_id",
        ),
        (
            lambda d: d["labels"].update(task="regression", positive_class=None),
            r"label column 'is_fraud' has type categorical, but task regression needs numerical",
        ),
    ],
)
def test_bad_labels_blocks_name_the_field(mutate, message):
    data = _valid()
    mutate(data["deployments"][0])
    with pytest.raises(ConfigError, match=message):
        parse_config(data, base=Path("/tmp"))


def test_the_repository_file_declares_the_demo_labels():
    from monitoring_pipelines.config import load_config

    labels = (
        load_config(Path(__file__).resolve().parents[2] / "monitors.yaml")
        .deployment("credit_risk")
        .labels
    )
    assert (labels.task, labels.positive_class, labels.arrival_column) == (
        "binary",
        "1",
        "labelled_at",
    )


@pytest.mark.parametrize(
    ("retraining", "message"),
    [
        ({"dry_run": True}, r"retraining: .*no rule: set accuracy_floor"),
        ({"accuracy_floor": 0.7}, r"set callable \(module:function\) or webhook_url_env"),
        ({"accuracy_floor": 1.5, "dry_run": True}, r"retraining\.accuracy_floor"),
        ({"consecutive_windows": 0, "dry_run": True}, r"retraining\.consecutive_windows"),
        ({"accuracy_floor": 0.7, "callable": "not a path"}, r"retraining\.callable"),
        (
            {"accuracy_floor": 0.7, "callable": "m:f", "webhook_url_env": "HOOK"},
            r"set callable or webhook_url_env, not both",
        ),
    ],
)
def test_bad_retraining_blocks_name_the_field(retraining, message):
    data = _valid()
    data["deployments"][0]["retraining"] = retraining
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_a_retraining_block_loads():
    data = _valid()
    data["deployments"][0]["retraining"] = {
        "min_drifted_features": 3,
        "cooldown_hours": 12,
        "callable": "my_models.train:retrain",
    }
    settings = parse_config(data).deployments[0].retraining
    assert (settings.min_drifted_features, settings.cooldown_hours, settings.dry_run) == (
        3,
        12,
        False,
    )


def _multiclass(**labels) -> dict:
    data = _valid()
    deployment = data["deployments"][0]
    deployment["labels"].pop("positive_class")
    deployment["labels"].update(
        {
            "task": "multiclass",
            "classes": ["bronze", "silver", "gold"],
            "probabilities": {"bronze": "p_bronze", "silver": "p_silver", "gold": "p_gold"},
        }
        | labels
    )
    return data


def test_multiclass_probabilities_load_with_numeric_class_names():
    labels = parse_config(_multiclass()).deployments[0].labels
    assert labels.probabilities["gold"] == "p_gold" and labels.probability_tolerance == 0.01
    data = _multiclass(classes=[0, 1, 2], probabilities={0: "p0", 1: "p1", 2: "p2"})
    labels = parse_config(data).deployments[0].labels
    assert labels.classes == ["0", "1", "2"] and labels.probabilities["1"] == "p1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"probabilities": {"bronze": "p_b", "silver": "p_s", "glod": "p_g"}},
            r"deployments\[0\]\.labels: probabilities\.glod: unknown class 'glod' "
            r"\(classes: bronze, silver, gold\)",
        ),
        (
            {"probabilities": {"bronze": "p_b", "silver": "p_s"}},
            r"labels: probabilities: class\(es\) \['gold'\] have no probability column",
        ),
        (
            {"probabilities": {"bronze": "p", "silver": "p", "gold": "p_g"}},
            r"probabilities\.bronze: classes \['bronze', 'silver'\] name the same column 'p'",
        ),
        ({"classes": None}, r"labels: probabilities needs classes"),
        ({"classes": ["gold"]}, r"labels\.classes: List should have at least 2 items"),
        ({"classes": ["gold", "gold", "x"]}, r"duplicate classes \['gold'\]"),
        ({"probability_tolerance": 1.5}, r"labels\.probability_tolerance"),
        (
            {"probabilities": {"bronze": "p_b", "silver": "is_fraud", "gold": "p_g"}},
            r"labels\.probabilities\.silver: column 'is_fraud' is the label column",
        ),
    ],
)
def test_bad_multiclass_probabilities_name_the_field(change, message):
    data = _multiclass()
    data["deployments"][0]["labels"].update(change)
    if change.get("classes", "") is None:
        data["deployments"][0]["labels"].pop("classes")
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_probabilities_are_only_for_multiclass():
    data = _valid()
    data["deployments"][0]["labels"]["probabilities"] = {"0": "p0", "1": "p1"}
    with pytest.raises(
        ConfigError,
        match=r"probabilities is only for task multiclass, not "
        r"binary \(a binary model logs its positive-class probability as the score",
    ):
        parse_config(data)


def test_multiclass_alert_rules_name_the_metrics_it_has():
    data = _multiclass()
    data["deployments"][0]["performance_alerts"] = {
        "thresholds": {"roc_auc_macro": {"warning": 0.8}, "log_loss": {"warning": 0.7}}
    }
    rules = parse_config(data).deployments[0].performance_alerts.rules()
    assert set(rules.thresholds) == {"roc_auc_macro", "log_loss"}
    data["deployments"][0]["performance_alerts"]["thresholds"] = {"roc_auc": {"warning": 0.8}}
    with pytest.raises(
        ConfigError,
        match=r"thresholds\.roc_auc: unknown performance metric for "
        r"task multiclass \(valid: accuracy, .*roc_auc_macro, log_loss",
    ):
        parse_config(data)
    data = _multiclass()
    data["deployments"][0]["labels"].pop("probabilities")
    data["deployments"][0]["performance_alerts"] = {"thresholds": {"log_loss": {"warning": 0.7}}}
    with pytest.raises(ConfigError, match=r"thresholds\.log_loss: unknown performance metric"):
        parse_config(data)
    data["deployments"][0]["performance_alerts"] = {
        "thresholds": {"roc_auc_macro": {"warning": 1.5}}
    }
    data["deployments"][0]["labels"]["probabilities"] = _multiclass()["deployments"][0]["labels"][
        "probabilities"
    ]
    with pytest.raises(ConfigError, match=r"roc_auc_macro lives in \[0, 1\], got 1.5"):
        parse_config(data)
