"""A multiclass model's class probabilities logged by MonitoringLogger and monitor(): each to the
column labels.probabilities names (Parquet, SQL and Kafka alike), read back exactly, scored to
scikit-learn's log loss and one-vs-rest AUC; unknown classes and non-numbers are refused or
counted, never written silently."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LogisticRegression

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.demo.broker import create_topic
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.sources.parquet import ParquetLogSource
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.performance import accumulator
from monitoring_pipelines.traffic import MonitoringLogger, ParquetSink, SqlSink, monitor, sink_for
from monitoring_pipelines.traffic.records import Schema
from tests.traffic.test_logger import HOUR, T0

CLASSES = ["bronze", "silver", "gold"]
COLUMNS = {"bronze": "p_bronze", "silver": "p_silver", "gold": "p_gold"}


def multiclass_config(tmp_path, logs: dict | None = None):
    return parse_config(
        {
            "deployments": [
                {
                    "id": "tiers",
                    "reference": {"path": str(tmp_path / "ref.parquet")},
                    "logs": logs
                    or {"type": "parquet", "path": str(tmp_path), "timestamp_column": "ts"},
                    "start": "2026-11-01T00:00:00Z",
                    "columns": [
                        {"name": "ts", "role": "timestamp"},
                        {"name": "rid", "role": "request_id"},
                        {"name": "x0", "type": "numerical"},
                        {"name": "x1", "type": "numerical"},
                        {"name": "tier", "type": "categorical", "role": "prediction"},
                        {"name": "p_max", "type": "numerical", "role": "confidence"},
                        {"name": "label", "type": "categorical", "role": "label"},
                    ],
                    "labels": {
                        "type": "parquet",
                        "path": str(tmp_path / "labels"),
                        "arrival_column": "labelled_at",
                        "task": "multiclass",
                        "classes": CLASSES,
                        "probabilities": COLUMNS,
                    },
                }
            ]
        }
    )


@pytest.fixture(scope="module")
def tiers() -> tuple[LogisticRegression, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x0": rng.normal(size=600), "x1": rng.normal(size=600)})
    y = np.array(CLASSES)[np.digitize(X["x0"] + 0.5 * rng.normal(size=600), [-0.5, 0.5])]
    return LogisticRegression(max_iter=300).fit(X, y), X, y


def test_predict_proba_logs_every_class_probability_and_they_score_as_sklearn(tmp_path, tiers):
    model, X, y = tiers
    config = multiclass_config(tmp_path)
    logger = MonitoringLogger("tiers", ParquetSink(tmp_path), config=config)
    wrapped = monitor(model, logger)
    times = [T0 + (i % 50) * (HOUR / 50) for i in range(len(X))]
    answered = wrapped.predict_proba(X, timestamps=times)
    assert logger.close() == 0 and wrapped.logging_errors == 0

    rows = pd.concat(ParquetLogSource(tmp_path, "ts").read_window(T0, T0 + HOUR))
    rows = rows.set_index("rid").loc[wrapped.last_request_ids]
    for i, name in enumerate(model.classes_):
        assert np.array_equal(rows[COLUMNS[name]].to_numpy(), answered[:, i])  # bit for bit
    assert not {"probabilities", *(f"probabilities.{c}" for c in CLASSES)} & set(rows.columns)

    acc = accumulator("multiclass", classes=CLASSES)
    acc.add(y, rows["tier"].to_numpy(), probabilities={c: rows[COLUMNS[c]] for c in CLASSES})
    scored = acc.result(len(rows))
    order = sorted(CLASSES)  # scikit-learn's column order is the sorted labels
    matrix = rows[[COLUMNS[c] for c in order]].to_numpy()
    assert scored.metrics["log_loss"] == pytest.approx(sk.log_loss(y, matrix, labels=order))
    assert scored.metrics["roc_auc_macro"] == pytest.approx(
        sk.roc_auc_score(y, matrix, multi_class="ovr", average="macro", labels=order)
    )


def test_an_unknown_class_is_refused_and_a_non_number_is_counted(tmp_path):
    logger = MonitoringLogger("tiers", ParquetSink(tmp_path), config=multiclass_config(tmp_path))
    with pytest.raises(ValueError, match=r"class\(es\) \['platinum'\] that have no probability"):
        logger.log({"x0": 1.0, "x1": 2.0}, "gold", probabilities={"platinum": 0.4, "gold": 0.6})
    logger.log(
        {"x0": 1.0, "x1": 2.0},
        "gold",
        probabilities={"bronze": "n/a", "silver": 0.25, "gold": 0.75},
        request_id="r1",
        timestamp=T0,
    )
    with pytest.raises(ValueError, match="probabilities has 1 rows for 2 rows of features"):
        logger.log_batch(
            pd.DataFrame({"x0": [1.0, 2.0], "x1": [0.0, 0.0]}),
            ["gold", "gold"],
            probabilities={"gold": [1.0]},
        )
    assert logger.close() == 0
    assert logger.status().invalid_values == {"p_bronze": 1}
    row = pd.concat(ParquetLogSource(tmp_path, "ts").read_window(T0, T0 + HOUR)).iloc[0]
    assert pd.isna(row["p_bronze"]) and (row["p_silver"], row["p_gold"]) == (0.25, 0.75)

    plain = MonitoringLogger("tiers", ParquetSink(tmp_path / "plain"))  # no configuration
    with pytest.raises(ValueError, match=r"declare labels\.probabilities in monitors\.yaml"):
        plain.log({"x0": 1.0}, "gold", probabilities={"gold": 1.0})
    plain.close()


def test_sql_sink_creates_a_double_column_per_class_and_the_source_reads_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    config = multiclass_config(tmp_path)
    logger = MonitoringLogger("tiers", SqlSink(url, "scoring_log"), config=config)
    given = pd.DataFrame({"bronze": [0.2, 0.0], "silver": [0.3, 1.0], "gold": [0.5, 0.0]})
    ids = logger.log_batch(
        pd.DataFrame({"x0": [1.0, 2.0], "x1": [3.0, 4.0]}),
        ["gold", "silver"],
        probabilities=given,
        timestamps=T0,
    )
    assert logger.close() == 0
    source = SqlLogSource(url, "scoring_log", "ts")
    rows = pd.concat(source.read_window(T0, T0 + HOUR)).set_index("rid").loc[ids]
    for name in CLASSES:
        assert rows[COLUMNS[name]].dtype == np.float64
        assert rows[COLUMNS[name]].tolist() == given[name].tolist()


@pytest.mark.slow
def test_kafka_events_carry_the_probabilities_to_their_columns(kafka_broker, tmp_path, monkeypatch):
    """Through the real local broker: the sink's CloudEvent holds them under outputs, the
    deployment's source puts each in its class's column."""
    topic = f"tiers-{uuid.uuid4().hex[:10]}"
    create_topic(kafka_broker, topic, 1)
    monkeypatch.setenv("TEST_KAFKA", kafka_broker)
    logs = {"type": "kafka", "bootstrap_servers_env": "TEST_KAFKA", "topic": topic}
    config = multiclass_config(tmp_path, logs)
    deployment = config.deployment("tiers")
    logger = MonitoringLogger("tiers", sink_for(deployment), config=config)
    given = {"bronze": 0.1, "silver": 0.2, "gold": 0.7}
    logger.log({"x0": 1.0, "x1": 2.0}, "gold", probabilities=given, timestamp=T0)
    assert logger.close() == 0
    rows = pd.concat(log_source(config, deployment).read_window(T0, T0 + HOUR))
    assert rows[["p_bronze", "p_silver", "p_gold", "tier"]].iloc[0].tolist() == [
        0.1,
        0.2,
        0.7,
        "gold",
    ]
    assert Schema.from_deployment(deployment).reserved >= set(COLUMNS.values())
