"""Kafka end to end against the real local broker (tansu): the sink's CloudEvents checked by the
CloudEvents SDK, a missing topic, a broker that is down and comes back, and a day of events
whose hourly_aggregates from the topic equal the Parquet path's on the same events."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import select

from monitoring_pipelines.config import load_config, parse_config
from monitoring_pipelines.defs.assets.aggregates import build_hourly_aggregates
from monitoring_pipelines.defs.assets.baseline import build_baseline_statistics
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.demo.broker import create_topic
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.sources.base import LogSourceError
from monitoring_pipelines.sources.events import INFERENCE_TYPE, LABEL_TYPE
from monitoring_pipelines.sources.kafka import KafkaLogSource
from monitoring_pipelines.store.aggregates import ROW_COUNTS
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates
from monitoring_pipelines.traffic import KafkaSink, MonitoringLogger, ParquetSink, monitor, sink_for
from tests.conftest import broker_or_skip
from tests.traffic.test_logger import HOUR, T0, applicants

pytestmark = pytest.mark.slow


def new_topic(bootstrap: str, partitions: int = 3) -> str:
    topic = f"scoring-{uuid.uuid4().hex[:10]}"
    create_topic(bootstrap, topic, partitions)
    return topic


def raw_messages(bootstrap: str, topic: str, expected: int) -> list:
    """Every message of the topic, read from an assigned consumer."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-raw"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages, deadline = [], time.monotonic() + 30
    while len(messages) < expected and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(500, timeout=0.5) if m.error() is None]
    consumer.close()
    return messages


def test_each_request_is_one_cloudevent_keyed_by_request_id(kafka_broker):
    topic = new_topic(kafka_broker)
    logger = MonitoringLogger("credit", KafkaSink(kafka_broker, topic), model_version="v3")
    when = T0 + timedelta(minutes=7, microseconds=123000)
    rid = logger.log(
        {"income": 52000.0, "purpose": "car"},
        1,
        confidence=0.8,
        latency_ms=4.5,
        timestamp=when,
        channel="web",
    )
    logger.log_label(rid, 0, timestamp=when + HOUR)
    assert logger.close() == 0

    messages = raw_messages(kafka_broker, topic, 2)
    assert len(messages) == 2
    assert {m.key() for m in messages} == {rid.encode()}
    assert len({m.partition() for m in messages}) == 1  # the request and its label together
    events = {}
    for message in messages:
        event = JSONFormat().read(None, message.value())  # validates the spec's attributes
        assert event.get_specversion() == "1.0"
        assert event.get_source() == "/monitoring-pipelines/deployments/credit"
        assert event.get_datacontenttype() == "application/json"
        assert dict(message.headers())["content-type"].startswith(b"application/cloudevents+json")
        events[event.get_type()] = (event, message)
    event, message = events[INFERENCE_TYPE]
    assert event.get_id() == rid
    assert event.get_time() == when
    assert message.timestamp()[1] == int(when.timestamp() * 1000)
    assert event.get_data() == {
        "deployment_id": "credit",
        "model_version": "v3",
        "inputs": {"income": 52000.0, "purpose": "car"},
        "outputs": {"prediction": 1, "confidence": 0.8},
        "latency_ms": 4.5,
        "tags": {"channel": "web"},
    }
    label, _ = events[LABEL_TYPE]
    assert label.get_data() == {"deployment_id": "credit", "request_id": rid, "label": 0}
    assert label.get_time() == when + HOUR and label.get_id() == f"{rid}:label"

    broken = json.loads(messages[0].value())
    del broken["type"]  # the SDK's check can fail: an envelope without a type is refused
    with pytest.raises(CloudEventValidationError):
        JSONFormat().read(None, json.dumps(broken))


def test_a_missing_topic_is_named_by_the_sink_and_the_source(kafka_broker):
    topic = f"missing-{uuid.uuid4().hex[:8]}"
    logger = MonitoringLogger("credit", KafkaSink(kafka_broker, topic), retry_seconds=0.05)
    logger.log({"x": 1.0}, 1, timestamp=T0)
    assert not logger.flush(0.5)
    assert f"Kafka topic '{topic}' does not exist on {kafka_broker}" in logger.status().last_error
    source = KafkaLogSource(kafka_broker, topic, "credit")
    with pytest.raises(LogSourceError, match=f"Kafka topic '{topic}' does not exist"):
        list(source.read_window(T0, T0 + HOUR))

    create_topic(kafka_broker, topic)  # created later: what was buffered is delivered
    assert logger.flush(20) and logger.close() == 0
    assert len(pd.concat(source.read_window(T0, T0 + HOUR))) == 1


def test_broker_down_model_keeps_answering_buffer_bounded_then_everything_delivered(tmp_path):
    from sklearn.linear_model import LogisticRegression

    frame = applicants(np.random.default_rng(0), 300)
    model = LogisticRegression(max_iter=200).fit(frame[["income", "age"]], frame.income > 3e4)
    broker = broker_or_skip()
    try:
        topic = new_topic(broker.bootstrap_servers)
        sink = KafkaSink(
            broker.bootstrap_servers,
            topic,
            delivery_timeout_seconds=1,
            config={"reconnect.backoff.max.ms": 200},  # the test need not wait 10 s to reconnect
        )
        logger = MonitoringLogger(
            "credit", sink, batch_rows=10, max_buffered_rows=40, retry_seconds=0.05
        )
        wrapped = monitor(model, logger)
        X = frame[["income", "age"]].head(6)
        wrapped.predict(X)
        assert logger.flush(20) and logger.status().delivered == 6
        broker.stop()

        started = time.monotonic()
        answers = [wrapped.predict(X) for _ in range(10)]  # 60 rows for a 40-row buffer
        assert time.monotonic() - started < 2  # answering never waits for the broker
        assert all((a == model.predict(X)).all() for a in answers)
        assert not logger.flush(2)
        status = logger.status()
        assert (status.buffered, status.dropped, status.delivered) == (40, 20, 6)
        assert status.write_failures >= 1 and topic in status.last_error
        assert sink.delivery_failures >= 10

        broker.start()  # same port, empty memory: the user re-creates the topic
        create_topic(broker.bootstrap_servers, topic)
        assert logger.flush(60) and logger.close() == 0
        assert logger.status().delivered == 46
        assert len(raw_messages(broker.bootstrap_servers, topic, 40)) == 40
    finally:
        broker.stop()


def test_out_of_order_and_late_events_land_in_their_hour(kafka_broker):
    topic = new_topic(kafka_broker, partitions=2)
    logger = MonitoringLogger("credit", KafkaSink(kafka_broker, topic), batch_rows=50)
    # produced in this order: hour 1 backwards, hour 2, then a late hour-1 event (10 minutes
    # after its end, within late), hour 3, then a very late hour-1 event (2 h after its end)
    for minute in range(59, -1, -1):
        logger.log({"x": 1.0}, 0, timestamp=T0 + timedelta(minutes=minute), request_id=f"a{minute}")
    for minute in range(60):
        if minute == 10:
            late = T0 + timedelta(minutes=59, seconds=59)
            logger.log({"x": 1.0}, 0, timestamp=late, request_id="late")
        logger.log({"x": 2.0}, 0, timestamp=T0 + HOUR + timedelta(minutes=minute))
    for minute in range(0, 180, 3):
        logger.log({"x": 3.0}, 0, timestamp=T0 + 2 * HOUR + timedelta(minutes=minute))
    logger.log({"x": 1.0}, 0, timestamp=T0 + timedelta(minutes=30), request_id="too-late")
    assert logger.close() == 0

    source = KafkaLogSource(kafka_broker, topic, "credit", late=timedelta(minutes=20), chunk_rows=7)
    first = pd.concat(source.read_window(T0, T0 + HOUR))
    assert sorted(first["request_id"]) == sorted([f"a{m}" for m in range(60)] + ["late"])
    assert (first["x"] == 1.0).all()
    second = pd.concat(source.read_window(T0 + HOUR, T0 + 2 * HOUR))
    assert len(second) == 60 and (second["x"] == 2.0).all()
    # what the source learned while reading lets the next hour start past the first two hours,
    # and it reads the same rows as a fresh source (tansu has no time index of its own)
    third_ms = int((T0 + 2 * HOUR).timestamp() * 1000)
    assert all(source.index.seek(p, third_ms)[0] > 0 for p in (0, 1))
    fresh = KafkaLogSource(kafka_broker, topic, "credit", late=timedelta(minutes=20))
    third = [pd.concat(s.read_window(T0 + 2 * HOUR, T0 + 3 * HOUR)) for s in (source, fresh)]
    ids = [sorted(frame["request_id"]) for frame in third]  # partitions interleave freely
    assert len(ids[0]) == 20 and ids[0] == ids[1]
    # read again with a larger late window, the very late event is counted
    patient = KafkaLogSource(kafka_broker, topic, "credit", late=timedelta(hours=6))
    assert len(pd.concat(patient.read_window(T0, T0 + HOUR))) == 62
    assert list(source.read_window(T0 + 10 * HOUR, T0 + 11 * HOUR)) == []


def day_config(tmp_path, topic: str) -> dict:
    columns = [
        {"name": "income", "type": "numerical"},
        {"name": "age", "type": "numerical"},
        {"name": "purpose", "type": "categorical"},
        {"name": "prediction", "type": "categorical", "role": "prediction"},
        {"name": "confidence", "type": "numerical", "role": "confidence"},
        {"name": "latency_ms", "role": "latency"},
    ]
    common = {"reference": {"path": str(tmp_path / "reference.parquet")}, "columns": columns}
    start = T0.isoformat()
    return {
        "defaults": {"n_bins": 8, "chunk_rows": 500, "lag_minutes": 15, "quality_checks": False},
        "deployments": [
            {
                "id": "via_kafka",
                "start": start,
                "logs": {"type": "kafka", "bootstrap_servers_env": "TEST_KAFKA", "topic": topic},
                **common,
            },
            {
                "id": "via_parquet",
                "start": start,
                "logs": {
                    "type": "parquet",
                    "path": str(tmp_path / "logs"),
                    "timestamp_column": "timestamp",
                },
                **common,
            },
        ],
    }


def test_a_day_of_events_aggregates_from_the_topic_as_from_parquet(
    kafka_broker, tmp_path, monkeypatch, dagster_instance
):
    rng = np.random.default_rng(12)
    reference = applicants(rng, 3000)
    reference["prediction"] = rng.choice(["0", "1"], len(reference))
    reference["confidence"] = rng.uniform(0.5, 1, len(reference))
    reference.to_parquet(tmp_path / "reference.parquet")
    topic = new_topic(kafka_broker)
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(day_config(tmp_path, topic)))
    monkeypatch.setenv("TEST_KAFKA", kafka_broker)
    config = load_config(path)

    # a day of requests, sent in arrival order: 10% arrive up to 12 minutes late, so each
    # partition's timestamps go back and forth; both deployments log the same requests
    n = 24 * 120
    events = applicants(rng, n)
    seconds = np.sort(rng.uniform(0, 86400, n))
    events["stamp"] = [T0 + timedelta(seconds=float(s)) for s in seconds]
    arrival = seconds + np.where(rng.random(n) < 0.1, rng.uniform(0, 720, n), 0.0)
    events = events.iloc[np.argsort(arrival)]
    kafka = MonitoringLogger("via_kafka", KafkaSink(kafka_broker, topic), config=config)
    parquet = MonitoringLogger("via_parquet", ParquetSink(tmp_path / "logs"), config=config)
    for row in events.to_dict("records"):
        when = row.pop("stamp")
        prediction, confidence = rng.choice(["0", "1"]), float(rng.uniform(0.5, 1))
        for logger in (kafka, parquet):
            logger.log(row, prediction, confidence=confidence, latency_ms=2.0, timestamp=when)
    assert kafka.close() == 0 and parquet.close() == 0

    url = f"sqlite:///{tmp_path / 'monitoring.db'}"
    baseline = build_baseline_statistics(config)
    hourly = build_hourly_aggregates(config, baseline)
    resources = {
        "monitors": MonitorsResource(path=str(path)),
        "store": StoreResource(database_url=url),
    }
    for deployment in ("via_kafka", "via_parquet"):
        assert dg.materialize(
            [baseline], partition_key=deployment, resources=resources, instance=dagster_instance
        ).success
        result = dg.materialize(
            [baseline, hourly],
            selection=[hourly],
            resources=resources,
            instance=dagster_instance,
            tags={
                "dagster/asset_partition_range_start": str(hour_key(deployment, T0)),
                "dagster/asset_partition_range_end": str(hour_key(deployment, T0 + 23 * HOUR)),
            },
        )
        assert result.success

    stored = stored_aggregates(url)
    assert set(stored) == {"via_kafka", "via_parquet"}
    assert len(stored["via_kafka"]) == 24 * 6  # 24 hours × (5 monitored columns + __multivariate__)
    assert stored["via_kafka"].keys() == stored["via_parquet"].keys()
    for key, row in stored["via_kafka"].items():
        same = stored["via_parquet"][key]
        for name, value in row.items():
            if isinstance(value, float):  # chunked merges round apart
                assert value == pytest.approx(same[name], rel=1e-12, abs=1e-12), (key, name)
            else:
                assert value == same[name], (key, name)
    rows = {k: v for k, v in stored["via_kafka"].items() if k[1] == "income"}
    assert sum(r["row_count"] for r in rows.values()) == n


# ids, write times, and how each source accounts for rows (NULL where it cannot tell)
IGNORED = {"id", "deployment_id", "computed_at", "log_files", *ROW_COUNTS}


def stored_aggregates(url: str) -> dict[str, dict]:
    """Per deployment: (hour, column) -> the hourly aggregate row without ids and write times."""
    engine = get_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(aggregates).where(aggregates.c.is_baseline.is_(False)))
        out: dict[str, dict] = {}
        for row in rows.mappings():
            values = {k: v for k, v in row.items() if k not in IGNORED}
            key = (row["timestamp"].replace(tzinfo=UTC), row["column_name"])
            out.setdefault(row["deployment_id"], {})[key] = values
    return out


def test_kafka_logs_config_is_validated(tmp_path):
    from monitoring_pipelines.config import ConfigError

    data = day_config(tmp_path, "bad topic!")
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.logs\.topic"):
        parse_config(data)
    data = day_config(tmp_path, "ok")
    del data["deployments"][0]["logs"]["bootstrap_servers_env"]
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.logs\.bootstrap_servers_env"):
        parse_config(data)


def test_sink_for_a_kafka_deployment_writes_where_its_source_reads(kafka_broker, tmp_path):
    topic = new_topic(kafka_broker)
    config = parse_config(day_config(tmp_path, topic))
    deployment = config.deployment("via_kafka")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("TEST_KAFKA", raising=False)
        with pytest.raises(ValueError, match=r"logs\.bootstrap_servers_env names TEST_KAFKA"):
            sink_for(deployment)
        patch.setenv("TEST_KAFKA", kafka_broker)
        logger = MonitoringLogger("via_kafka", sink_for(deployment), config=config)
        logger.log({"income": 1.0, "age": 30.0, "purpose": "car"}, "1", timestamp=T0)
        assert logger.close() == 0
        rows = pd.concat(log_source(config, deployment).read_window(T0, T0 + HOUR))
    assert rows["income"].tolist() == [1.0] and rows["prediction"].tolist() == ["1"]
