"""Issue 14, items 4 and 6, on the Kafka source: messages of an hour that are not events, or
events without a readable time, are counted (not only logged); a category value holding a
lone surrogate (JSON ``"\\ud800"``) is replaced and counted instead of failing the hour.

Before: undecodable messages were only logged, an event whose ``time`` did not parse failed
the hour with pandas' ``ValueError``, and a lone surrogate failed it with pyarrow's
``UnicodeEncodeError``, naming nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from monitoring_pipelines.demo.broker import create_topic
from monitoring_pipelines.sources.events import decode, inference_event
from monitoring_pipelines.sources.kafka import KafkaLogSource
from monitoring_pipelines.stats.profile import profile_categorical

T0 = datetime(2026, 11, 2, 5, tzinfo=UTC)


def _event(request_id: str, segment: str, time: datetime = T0) -> bytes:
    return inference_event(
        deployment_id="m",
        request_id=request_id,
        time=time + timedelta(minutes=1),
        inputs={"segment": segment, "amount": 1.5},
        outputs={"prediction": "1"},
    )


def _with_time(value: bytes, time: str) -> bytes:
    event = json.loads(value)
    event["time"] = time
    return json.dumps(event).encode()


def test_decode_keeps_surrogates_as_objects_and_unreadable_times_as_nat():
    values = [
        _event("a", "retail"),
        b'{"type": "dev.monitoring_pipelines.inference", "data": {"deployment_id": "m", '
        b'"inputs": {"segment": "x\\ud800"}, "outputs": {}}, "id": "b", '
        b'"time": "2026-11-02T05:02:00Z"}',
        _with_time(_event("c", "sme"), "yesterday"),
        b"not json",
    ]
    frame, undecodable = decode(values, "m")
    assert undecodable == 1 and len(frame) == 3
    assert frame["timestamp"].isna().tolist() == [False, False, True]
    segment = profile_categorical(frame["segment"])
    assert segment.counts == {"retail": 1, "x\ufffd": 1, "sme": 1} and segment.replaced == 1


@pytest.mark.slow
def test_the_kafka_source_counts_what_it_read_but_could_not_profile(kafka_broker):
    topic = f"scoring-{uuid.uuid4().hex[:10]}"
    create_topic(kafka_broker, topic, 1)
    producer = Producer({"bootstrap.servers": kafka_broker})
    stamp = int((T0 + timedelta(minutes=1)).timestamp() * 1000)
    messages = [
        _event("a", "retail"),
        _event("b", "sme"),
        _with_time(_event("c", "sme"), "not a time"),
        b"{truncated",
        b"\xff\xfe binary",
    ]
    for value in messages:
        producer.produce(topic, value=value, timestamp=stamp)
    assert producer.flush(10) == 0
    source = KafkaLogSource(kafka_broker, topic, "m", late=timedelta(0), timeout_seconds=10)

    rows = sum(len(chunk) for chunk in source.read_window(T0, T0 + timedelta(hours=1)))

    assert rows == 2
    assert source.dropped_rows() == {"rows_null_timestamp": 1, "rows_undecodable": 2}
    assert rows + sum(source.dropped_rows().values()) == len(messages)
