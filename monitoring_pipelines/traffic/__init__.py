"""Getting scoring logs in: a logging client for model servers (no Dagster, light dependencies).

``MonitoringLogger`` buffers records and writes them in the background to a sink (a Parquet
folder in the layout ``ParquetLogSource`` reads, a SQL table, or a Kafka topic as CloudEvents);
``monitor(model, logger)`` logs every ``predict`` / ``predict_proba`` call of a model.
"""

from monitoring_pipelines.traffic.configured import sink_for
from monitoring_pipelines.traffic.logger import MonitoringLogger, TrafficStatus
from monitoring_pipelines.traffic.records import Schema
from monitoring_pipelines.traffic.sinks import KafkaSink, ParquetSink, Sink, SinkError, SqlSink
from monitoring_pipelines.traffic.wrapper import MonitoredModel, monitor

__all__ = [
    "KafkaSink",
    "MonitoredModel",
    "MonitoringLogger",
    "ParquetSink",
    "Schema",
    "Sink",
    "SinkError",
    "SqlSink",
    "TrafficStatus",
    "monitor",
    "sink_for",
]
