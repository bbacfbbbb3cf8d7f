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
