"""Scored requests (and labels) as CloudEvents on a pre-created Kafka topic, as H2O MLOps
exports raw requests: one message per request, keyed by request id (a request, its response
and its label share a partition), stamped with the request's time (what ``KafkaLogSource``
finds an hour by). The producer is idempotent (acks from all replicas, retried by
librdkafka); after a fatal error, such as a broker that lost the producer's state, a new
producer takes over. A message not delivered within ``delivery_timeout_seconds`` goes back
to the buffer, which retries it, and is counted in :attr:`KafkaSink.delivery_failures`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from monitoring_pipelines.sources import events
from monitoring_pipelines.traffic.records import Inference, Label
from monitoring_pipelines.traffic.sinks.base import Sink, SinkError

# librdkafka's own log lines (broker connections), apart so a model server can quiet them
client_log = logging.getLogger("monitoring_pipelines.traffic.kafka")
METADATA_TIMEOUT_SECONDS = 5.0
CLOSE_SECONDS = 5.0


class KafkaSink(Sink):
    """Inference and label events on ``topic``; the topic must exist (it is never created).

    ``config`` adds librdkafka settings (security, say); secrets belong in the environment.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        delivery_timeout_seconds: float = 30.0,
        config: Mapping[str, Any] | None = None,
    ):
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.delivery_timeout_seconds = delivery_timeout_seconds
        self.delivery_failures = 0
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": int(delivery_timeout_seconds * 1000),
            "allow.auto.create.topics": False,
            "logger": client_log,
            **(config or {}),
        }
        self._producer: Producer | None = None
        self._topic_seen = False

    def __repr__(self) -> str:
        return f"KafkaSink(topic={self.topic!r}, bootstrap_servers={self.bootstrap_servers!r})"

    def write(self, batch: Sequence[Inference | Label]) -> None:
        producer = self._connect()
        self._check_topic(producer)
        delivered: set[int] = set()
        errors: list[KafkaError] = []

        def report(index: int):
            def on_delivery(error: KafkaError | None, _message: Any) -> None:
                if error is None:
                    delivered.add(index)
                else:
                    errors.append(error)

            return on_delivery

        try:
            for index, record in enumerate(batch):
                self._produce(producer, record, report(index))
        except KafkaException as error:  # the rest of the batch is reported undelivered
            errors.append(error.args[0])
        producer.flush(self.delivery_timeout_seconds + METADATA_TIMEOUT_SECONDS)
        if any(error.fatal() or error.code() == KafkaError._FATAL for error in errors):
            # e.g. a broker that lost the idempotent producer's state: start a new producer
            self._producer = None
        undelivered = [r for i, r in enumerate(batch) if i not in delivered]
        if undelivered:
            self.delivery_failures += len(undelivered)
            reason = errors[0].str() if errors else "no delivery report in time"
            raise SinkError(
                f"{len(undelivered)} of {len(batch)} message(s) not delivered to Kafka topic "
                f"{self.topic!r} on {self.bootstrap_servers}: {reason}",
                undelivered,
            )

    def close(self) -> None:
        """Wait briefly for what is in flight (each write already waited for its reports)."""
        if self._producer is not None:
            self._producer.flush(min(CLOSE_SECONDS, self.delivery_timeout_seconds))

    def _connect(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self._config)
        return self._producer

    def _check_topic(self, producer: Producer) -> None:
        """Fail (and be retried) until the topic exists; the message names it."""
        if self._topic_seen:
            return
        try:
            metadata = producer.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
        except KafkaException as error:
            raise SinkError(
                f"Kafka broker {self.bootstrap_servers} unreachable: {error.args[0].str()}"
            ) from None
        if self.topic not in metadata.topics:
            raise SinkError(
                f"Kafka topic {self.topic!r} does not exist on {self.bootstrap_servers}: create "
                "it first (the sink never creates topics)"
            )
        self._topic_seen = True

    def _produce(self, producer: Producer, record: Inference | Label, on_delivery: Any) -> None:
        """Queue one message, waiting for room when librdkafka's local queue is full."""
        value = _event(record)
        while True:
            try:
                producer.produce(
                    self.topic,
                    key=record.request_id.encode(),
                    value=value,
                    timestamp=int(record.timestamp.timestamp() * 1000),
                    headers=events.HEADERS,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:
                producer.poll(0.1)


def _event(record: Inference | Label) -> bytes:
    """The CloudEvent of one record."""
    if isinstance(record, Label):
        return events.label_event(
            record.deployment_id, record.request_id, record.label, record.timestamp
        )
    return events.inference_event(
        deployment_id=record.deployment_id,
        request_id=record.request_id,
        time=record.timestamp,
        inputs=record.inputs,
        outputs=record.outputs,
        latency_ms=record.latency_ms,
        model_version=record.model_version,
        tags=record.tags,
    )
