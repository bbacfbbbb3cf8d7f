"""Where the logging client writes: a Parquet folder, a SQL table or a Kafka topic."""

from monitoring_pipelines.traffic.sinks.base import Sink, SinkError
from monitoring_pipelines.traffic.sinks.kafka import KafkaSink
from monitoring_pipelines.traffic.sinks.parquet import ParquetSink
from monitoring_pipelines.traffic.sinks.sql import SqlSink

__all__ = ["KafkaSink", "ParquetSink", "Sink", "SinkError", "SqlSink"]
