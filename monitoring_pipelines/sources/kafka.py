"""Scoring logs in a Kafka topic of CloudEvents (``sources.events``), read by hour window.

Each message's Kafka timestamp is the request's time (the sink sets it), so a window is found
by timestamp on every partition: ``offsets_for_times`` gives the first offset stamped at or
after the window's start and the first stamped at or after its end + ``late`` (messages are not
in time order, so a request stamped inside the window may arrive after later ones; those that
arrive within ``late`` of the window's end are read). A partition's read also ends at its first
message stamped at or after end + ``late`` (what that lookup means), so a broker without a time
index (tansu answers every lookup with the earliest offset) reads more but the same rows; the
source's own :class:`TimeIndex`, learned while reading, keeps a backfill through such a broker
from rereading the topic for every hour. Partitions are assigned, never subscribed (no
consumer-group join, no offsets committed); the messages stamped inside the window are decoded
``chunk_rows`` at a time.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from monitoring_pipelines.sources import events
from monitoring_pipelines.sources.base import (
    LogSource,
    LogSourceError,
    check_chunk_rows,
    check_window,
    hours_between,
)

if TYPE_CHECKING:
    from monitoring_pipelines.config import DeploymentConfig, MonitorsConfig

log = logging.getLogger("monitoring_pipelines.sources")
DEFAULT_LATE = timedelta(minutes=60)
CHECKPOINT_EVERY = 1000  # messages between two entries of the learned time index
POLL_SECONDS = 0.05  # a consume call returns after this long when fewer messages are ready


class TimeIndex:
    """Where a read for a window may start on each partition, learned while reading.

    An entry ``(offset, bound)`` says every message before ``offset`` is stamped at or before
    ``bound`` (ms), so a window starting after ``bound`` may be read from ``offset``. Kafka
    brokers keep such an index themselves; on one that does not (tansu answers every
    ``offsets_for_times`` with the earliest offset), this one makes a backfill of consecutive
    hours through one source read each message about once instead of once per hour.
    """

    def __init__(self) -> None:
        self._entries: dict[int, list[tuple[int, int]]] = {}

    def seek(self, partition: int, start_ms: int) -> tuple[int, int]:
        """The furthest ``(offset, bound)`` with ``bound < start_ms`` (else the beginning)."""
        usable = [e for e in self._entries.get(partition, []) if e[1] < start_ms]
        return max(usable, default=(0, -1))

    def add(self, partition: int, offset: int, bound: int) -> None:
        """Record that every message before ``offset`` is stamped at or before ``bound``."""
        self._entries.setdefault(partition, []).append((offset, bound))


class KafkaLogSource(LogSource):
    """One deployment's inference events in ``topic`` (other events and deployments skipped).

    ``names`` maps the envelope's fields (request_id, timestamp, prediction, confidence, score,
    latency, and ``probabilities.<class>``) to the deployment's column names;
    ``timeout_seconds`` bounds every broker call and the wait for the next message of a
    partition that has not reached its end offset.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        deployment_id: str,
        *,
        names: Mapping[str, str] = events.DEFAULT_NAMES,
        chunk_rows: int = 100_000,
        late: timedelta = DEFAULT_LATE,
        timeout_seconds: float = 30.0,
        config: Mapping[str, str] | None = None,
    ):
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.deployment_id = deployment_id
        self.names = {**events.DEFAULT_NAMES, **names}
        self.timestamp_column = self.names["timestamp"]
        self.chunk_rows = check_chunk_rows(chunk_rows)
        self.late = late
        self.timeout_seconds = timeout_seconds
        self._dropped: Counter[str] = Counter()
        self.index = TimeIndex()
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"monitoring-pipelines-{deployment_id}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "allow.auto.create.topics": False,
            "logger": log,
            **(config or {}),
        }

    def __repr__(self) -> str:
        return f"KafkaLogSource(topic={self.topic!r}, bootstrap_servers={self.bootstrap_servers!r})"

    def read_window(
        self, start: datetime, end: datetime, columns: Sequence[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        start, end = check_window(start, end)
        self._dropped = Counter(rows_null_timestamp=0, rows_undecodable=0)
        stop_ms = _ms(end + self.late)
        consumer = Consumer(self._config)
        try:
            ranges = self._ranges(consumer, _ms(start), stop_ms)
            consumer.assign([TopicPartition(self.topic, p, r[0]) for p, r in ranges.items()])
            values: list[bytes] = []
            start_ms, end_ms = _ms(start), _ms(end)
            for message in self._messages(consumer, ranges, stop_ms):
                kind, stamp = message.timestamp()
                if kind == TIMESTAMP_CREATE_TIME and not start_ms <= stamp < end_ms:
                    continue  # the request's time is outside the window: not worth decoding
                values.append(message.value())
                if len(values) >= self.chunk_rows:
                    yield from self._frames(values, start, end, columns)
                    values = []
            yield from self._frames(values, start, end, columns)
        except KafkaException as error:
            raise LogSourceError(f"{self!r}: {error.args[0]}") from None
        finally:
            consumer.close()

    def dropped_rows(self) -> dict[str, int]:
        """Messages of the last read's window that were not CloudEvents JSON (``rows_undecodable``)
        and events of the deployment without a readable ``time`` (``rows_null_timestamp``)."""
        return dict(self._dropped)

    def available_hours(self, start: datetime, end: datetime) -> list[datetime]:
        """Every hour of the window when the topic holds any message (may over-report)."""
        consumer = Consumer(self._config)
        try:
            for partition in self._partitions(consumer):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=self.timeout_seconds
                )
                if high > low:
                    return hours_between(start, end)
            return []
        except KafkaException as error:
            raise LogSourceError(f"{self!r}: {error.args[0]}") from None
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int]:
        """The topic's partitions; a clear error when the topic does not exist."""
        metadata = consumer.list_topics(timeout=self.timeout_seconds)
        topic = metadata.topics.get(self.topic)
        if topic is None:
            raise LogSourceError(
                f"Kafka topic {self.topic!r} does not exist on {self.bootstrap_servers} "
                "(logs.topic in monitors.yaml; the topic is created by you, never by the monitor)"
            )
        return sorted(topic.partitions)

    def _ranges(self, consumer: Consumer, start_ms: int, stop_ms: int) -> dict[int, tuple]:
        """Per partition to read: (first offset, end offset or None: up to the end of the log,
        a bound on the stamps of the messages before the first offset)."""
        partitions = self._partitions(consumer)
        timeout = self.timeout_seconds
        firsts = consumer.offsets_for_times(
            [TopicPartition(self.topic, p, start_ms) for p in partitions], timeout=timeout
        )
        stops = consumer.offsets_for_times(
            [TopicPartition(self.topic, p, stop_ms) for p in partitions], timeout=timeout
        )
        ranges = {}
        for partition, first, stop in zip(partitions, firsts, stops, strict=True):
            if first.offset < 0:  # no message stamped at or after the window's start
                continue
            # the broker's answer: every message before it is stamped before start_ms
            begin, bound = max((first.offset, start_ms - 1), self.index.seek(partition, start_ms))
            # -1: nothing stamped at end + late yet; <= begin: the broker has no time index
            finish = stop.offset if stop.offset > begin else None
            ranges[partition] = (begin, finish, bound)
        return ranges

    def _messages(self, consumer: Consumer, ranges: dict[int, tuple], stop_ms: int) -> Iterator:
        """The messages of each partition's range, up to its first one stamped at ``stop_ms``
        (or the end of the log: the consumer reports it, so no watermark is trusted); what was
        read goes into the time index."""
        waiting = {p: (finish, bound, 0) for p, (_, finish, bound) in ranges.items()}
        deadline = time.monotonic() + self.timeout_seconds
        while waiting:
            batch = consumer.consume(min(self.chunk_rows, 10_000), timeout=POLL_SECONDS)
            if not batch and time.monotonic() > deadline:
                raise LogSourceError(
                    f"{self!r}: no message within {self.timeout_seconds}s while partitions "
                    f"{sorted(waiting)} were unread (ranges {ranges})"
                )
            if batch:
                deadline = time.monotonic() + self.timeout_seconds
            for message in batch:
                partition = message.partition()
                if partition not in waiting:
                    continue
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
                finish, bound, seen = waiting[partition]
                at = message.offset()
                if error is None:
                    bound, seen = max(bound, message.timestamp()[1]), seen + 1
                    at += 1  # the offset after this message
                    past = message.timestamp()[1] >= stop_ms or (finish is not None and at > finish)
                    if not past:
                        yield message
                    done = past or (finish is not None and at >= finish)
                else:
                    done = True
                waiting[partition] = (finish, bound, seen)
                if done or seen % CHECKPOINT_EVERY == 0:
                    self.index.add(partition, at, bound)
                if done:
                    del waiting[partition]
                    consumer.pause([TopicPartition(self.topic, partition)])

    def _frames(
        self,
        values: list[bytes],
        start: datetime,
        end: datetime,
        columns: Sequence[str] | None,
    ) -> Iterator[pd.DataFrame]:
        """The decoded rows of ``values`` inside the window (requested columns that exist)."""
        if not values:
            return
        frame, undecodable = events.decode(values, self.deployment_id, self.names)
        if undecodable:
            self._dropped["rows_undecodable"] += undecodable
            log.warning("%r: %d message(s) are not CloudEvents JSON, skipped", self, undecodable)
        if frame.empty:
            return
        stamps = frame[self.timestamp_column]
        self._dropped["rows_null_timestamp"] += int(stamps.isna().sum())
        frame = frame[(stamps >= start) & (stamps < end)].reset_index(drop=True)
        if columns is not None:
            frame = frame[[c for c in dict.fromkeys(columns) if c in frame.columns]]
        if len(frame):
            yield frame


def _ms(moment: datetime) -> int:
    """Milliseconds since the epoch (Kafka timestamps)."""
    return int(moment.timestamp() * 1000)


def kafka_log_source(config: MonitorsConfig, deployment: DeploymentConfig) -> KafkaLogSource:
    """The reader of a deployment's ``logs: {type: kafka}``, named as its columns."""
    from monitoring_pipelines.traffic.records import Schema

    logs = deployment.logs
    bootstrap_servers = os.environ.get(logs.bootstrap_servers_env)
    if not bootstrap_servers:
        raise RuntimeError(
            f"deployment {deployment.id!r}: logs.bootstrap_servers_env names "
            f"{logs.bootstrap_servers_env}, which is not set"
        )
    schema = Schema.from_deployment(deployment)
    names = {field: getattr(schema, field) for field in events.DEFAULT_NAMES}
    names |= {events.probability_key(c): column for c, column in schema.probabilities.items()}
    late = max(logs.late_minutes, config.defaults.lag_minutes)
    return KafkaLogSource(
        bootstrap_servers,
        logs.topic,
        deployment.id,
        names=names,
        chunk_rows=config.defaults.chunk_rows,
        late=timedelta(minutes=late),
    )
