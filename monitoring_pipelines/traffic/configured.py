"""The sink a deployment's ``logs`` block in ``monitors.yaml`` describes, so a model server
logs exactly where the monitor reads: a Parquet folder, a SQL table or a Kafka topic."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from monitoring_pipelines.traffic.sinks import KafkaSink, ParquetSink, Sink, SqlSink

if TYPE_CHECKING:
    from monitoring_pipelines.config import DeploymentConfig


def sink_for(deployment: DeploymentConfig) -> Sink:
    """A new sink writing to the deployment's log store (URLs and servers from the environment
    variables the block names)."""
    from monitoring_pipelines.config import KafkaLogs, ParquetLogs

    logs = deployment.logs
    if isinstance(logs, ParquetLogs):
        return ParquetSink(logs.path)
    variable = logs.bootstrap_servers_env if isinstance(logs, KafkaLogs) else logs.url_env
    value = os.environ.get(variable)
    if not value:
        field = "bootstrap_servers_env" if isinstance(logs, KafkaLogs) else "url_env"
        raise ValueError(
            f"deployment {deployment.id!r}: logs.{field} names {variable}, which is not set"
        )
    if isinstance(logs, KafkaLogs):
        return KafkaSink(value, logs.topic)
    return SqlSink(value, logs.table, deployment_column=logs.deployment_column)
