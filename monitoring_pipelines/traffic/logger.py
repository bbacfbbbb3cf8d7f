"""``MonitoringLogger``: log scored requests and their labels from a model server.

Calls return at once: records go to a bounded in-memory buffer that a background thread
writes to the sink by size (``batch_rows``) and by time (``flush_seconds``), and that is
flushed at exit. A sink that is down never blocks or crashes the caller: its batches are
retried, the buffer stays bounded, and overflow is counted in :meth:`MonitoringLogger.status`.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitoring_pipelines.store.engine import DEPLOYMENT_ID
from monitoring_pipelines.traffic.buffer import BackgroundBuffer
from monitoring_pipelines.traffic.records import (
    PROBABILITIES,
    Checker,
    Inference,
    Label,
    Schema,
    plain,
    utc,
)
from monitoring_pipelines.traffic.sinks.base import Sink

if TYPE_CHECKING:
    import pandas as pd

    from monitoring_pipelines.config import DeploymentConfig, MonitorsConfig


@dataclass(frozen=True)
class TrafficStatus:
    """What the logger has done so far: every record is delivered, buffered or dropped."""

    logged: int
    delivered: int
    buffered: int
    dropped: int
    write_failures: int
    last_error: str | None
    missing_columns: dict[str, int]
    invalid_values: dict[str, int]
    extra_columns: dict[str, int]


class MonitoringLogger:
    """Buffered logging of one deployment's traffic to ``sink``.

    ``config`` (a deployment, a whole ``monitors.yaml`` model or its path; by default the file
    ``$MONITORS_CONFIG`` names, when set) gives the column names and kinds records are checked
    against; a :class:`Schema` gives them directly; without either, the default names of
    :class:`Schema` are used and nothing is checked.
    """

    def __init__(
        self,
        deployment_id: str,
        sink: Sink,
        *,
        config: DeploymentConfig | MonitorsConfig | Schema | Path | str | None = None,
        model_version: str | None = None,
        batch_rows: int = 1000,
        flush_seconds: float = 1.0,
        max_buffered_rows: int = 100_000,
        retry_seconds: float = 1.0,
    ):
        if not isinstance(deployment_id, str) or not DEPLOYMENT_ID.match(deployment_id):
            raise ValueError(
                f"unsafe deployment id {deployment_id!r}: must match [a-z][a-z0-9_]* "
                "and be at most 48 characters"
            )
        self.deployment_id = deployment_id
        self.model_version = model_version
        if isinstance(config, Schema):
            self.schema = config
        else:
            deployment = _deployment(deployment_id, config)
            self.schema = Schema() if deployment is None else Schema.from_deployment(deployment)
        self.sink = sink
        sink.bind(self.schema)
        self._checker = Checker(self.schema)
        self._logged = 0
        self._closed = False
        self._buffer = BackgroundBuffer(
            sink,
            batch_rows=batch_rows,
            flush_seconds=flush_seconds,
            max_buffered_rows=max_buffered_rows,
            retry_seconds=retry_seconds,
            name=deployment_id,
        )
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"MonitoringLogger({self.deployment_id!r}, sink={self.sink!r})"

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any,
        *,
        request_id: str | None = None,
        confidence: float | None = None,
        score: float | None = None,
        probabilities: Mapping[Any, float] | None = None,
        latency_ms: float | None = None,
        timestamp: datetime | None = None,
        **tags: Any,
    ) -> str:
        """Log one scored request; return its request id (generated when not given).
        ``probabilities``: a multiclass model's probability of each class."""
        if not isinstance(features, Mapping):
            raise TypeError(f"features must be a mapping of column to value, got {type(features)}")
        outputs = {
            "prediction": prediction,
            "confidence": confidence,
            "score": score,
            PROBABILITIES: probabilities,
        }
        record = self._inference(features, outputs, request_id, latency_ms, timestamp, tags)
        self._put([record])
        return record.request_id

    def log_batch(
        self,
        features: pd.DataFrame,
        predictions: Sequence[Any],
        *,
        request_ids: Sequence[str] | None = None,
        confidences: Sequence[float] | None = None,
        scores: Sequence[float] | None = None,
        probabilities: pd.DataFrame | Mapping[Any, Sequence[float]] | None = None,
        latency_ms: float | Sequence[float] | None = None,
        timestamps: datetime | Sequence[datetime] | None = None,
        **tags: Any,
    ) -> list[str]:
        """Log one row per row of ``features`` (a DataFrame); return the request ids.
        ``probabilities``: one column per class, one row per row of ``features`` (a DataFrame
        or a mapping of class to values)."""
        n = len(features)
        if probabilities is not None:
            import pandas as pd

            probabilities = pd.DataFrame(probabilities)
        if probabilities is not None and len(probabilities) != n:
            raise ValueError(
                f"probabilities has {len(probabilities)} rows for {n} rows of features"
            )
        per_class = [None] * n if probabilities is None else probabilities.to_dict("records")
        columns = {
            "predictions": predictions,
            "request_ids": request_ids,
            "confidences": confidences,
            "scores": scores,
            "latency_ms": latency_ms,
            "timestamps": timestamps,
        }
        per_row = {}
        for name, values in columns.items():
            if values is None or isinstance(values, (int, float, datetime)):
                per_row[name] = [values] * n
            elif len(values) != n:
                raise ValueError(f"{name} has {len(values)} values for {n} rows of features")
            else:
                per_row[name] = list(values)
        records = [
            self._inference(
                row,
                {
                    "prediction": per_row["predictions"][i],
                    "confidence": per_row["confidences"][i],
                    "score": per_row["scores"][i],
                    PROBABILITIES: per_class[i],
                },
                per_row["request_ids"][i],
                per_row["latency_ms"][i],
                per_row["timestamps"][i],
                tags,
            )
            for i, row in enumerate(features.to_dict("records"))
        ]
        self._put(records)
        return [r.request_id for r in records]

    def log_label(self, request_id: str, label: Any, timestamp: datetime | None = None) -> None:
        """Log the ground truth of an earlier request (``timestamp``: when it became known)."""
        if not self.sink.takes_labels:
            raise ValueError(f"{self.sink!r} has nowhere to write labels (see its labels option)")
        if not isinstance(request_id, str) or not request_id:
            raise ValueError(f"request_id must be a non-empty string, got {request_id!r}")
        self._put([Label(self.deployment_id, request_id, plain(label), utc(timestamp))])

    def status(self) -> TrafficStatus:
        counts = self._buffer.counts()
        return TrafficStatus(
            logged=self._logged,
            delivered=counts.delivered,
            buffered=counts.buffered,
            dropped=counts.dropped,
            write_failures=counts.write_failures,
            last_error=counts.last_error,
            missing_columns=dict(self._checker.missing),
            invalid_values=dict(self._checker.invalid),
            extra_columns=dict(self._checker.extra),
        )

    def flush(self, timeout: float = 30.0) -> bool:
        """Write everything buffered; True when it was all delivered within ``timeout``."""
        return self._buffer.flush(timeout)

    def close(self, timeout: float = 10.0) -> int:
        """Flush and stop (also run at exit); return the number of rows left undelivered."""
        if self._closed:
            return self._buffer.counts().buffered
        self._closed = True
        atexit.unregister(self.close)
        return self._buffer.close(timeout)

    def __enter__(self) -> MonitoringLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _inference(
        self,
        features: Mapping[str, Any],
        outputs: dict[str, Any],
        request_id: str | None,
        latency_ms: float | None,
        timestamp: datetime | None,
        tags: Mapping[str, Any],
    ) -> Inference:
        if outputs.get(PROBABILITIES) is not None:
            outputs[PROBABILITIES] = self._checker.probabilities(outputs[PROBABILITIES])
        return Inference(
            deployment_id=self.deployment_id,
            request_id=str(request_id) if request_id is not None else str(uuid.uuid4()),
            timestamp=utc(timestamp),
            inputs=self._checker.inputs(features, tags),
            outputs={k: plain(v) for k, v in outputs.items() if v is not None},
            latency_ms=None if latency_ms is None else float(latency_ms),
            model_version=self.model_version,
            tags={k: plain(v) for k, v in tags.items()},
        )

    def _put(self, records: list[Any]) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        self._logged += len(records)
        self._buffer.put(records)


def _deployment(
    deployment_id: str, config: DeploymentConfig | MonitorsConfig | Path | str | None
) -> DeploymentConfig | None:
    """The deployment's configuration, when one is given or ``$MONITORS_CONFIG`` is set."""
    from monitoring_pipelines.config import (
        CONFIG_ENV,
        DeploymentConfig,
        MonitorsConfig,
        load_config,
    )

    if config is None:
        if not os.environ.get(CONFIG_ENV):
            return None
        config = load_config()
    if isinstance(config, (str, Path)):
        config = load_config(config)
    if isinstance(config, MonitorsConfig):
        config = config.deployment(deployment_id)
    if not isinstance(config, DeploymentConfig):
        raise TypeError(f"config must be a deployment, monitors.yaml or its path, got {config!r}")
    if config.id != deployment_id:
        raise ValueError(f"config is for deployment {config.id!r}, not {deployment_id!r}")
    return config
