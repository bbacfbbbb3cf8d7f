"""The Kafka log layout: one CloudEvents 1.0 JSON event (structured mode) per scored request.

``inference_event`` writes the envelope the README documents (``id`` = request id, ``source``
= the deployment's URI, ``type`` = :data:`INFERENCE_TYPE`, ``time``, ``datacontenttype``; the
data holds the deployment, model version, inputs, outputs, latency and tags); ``label_event``
carries a ground-truth label for a request id. ``decode`` turns a batch of message values back
into log rows named as the deployment's columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

SPECVERSION = "1.0"
INFERENCE_TYPE = "dev.monitoring_pipelines.inference"
LABEL_TYPE = "dev.monitoring_pipelines.label"
DATA_CONTENT_TYPE = "application/json"
# the Kafka protocol binding's header for structured-mode events
HEADERS = [("content-type", b"application/cloudevents+json; charset=UTF-8")]
# envelope fields -> default log column names (a deployment's roles rename them)
DEFAULT_NAMES = {
    "request_id": "request_id",
    "timestamp": "timestamp",
    "prediction": "prediction",
    "confidence": "confidence",
    "score": "score",
    "latency": "latency_ms",
}


def source_uri(deployment_id: str) -> str:
    """The events' ``source``: a URI reference naming the deployment."""
    return f"/monitoring-pipelines/deployments/{deployment_id}"


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as an RFC 3339 timestamp ending in ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def inference_event(
    *,
    deployment_id: str,
    request_id: str,
    time: datetime,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    latency_ms: float | None = None,
    model_version: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON event of one scored request (``outputs`` keyed by role: prediction, ...)."""
    data = {
        "deployment_id": deployment_id,
        "model_version": model_version,
        "inputs": dict(inputs),
        "outputs": dict(outputs),
        "latency_ms": latency_ms,
        "tags": dict(tags or {}),
    }
    return _envelope(request_id, INFERENCE_TYPE, deployment_id, time, data)


def label_event(deployment_id: str, request_id: str, label: Any, time: datetime) -> bytes:
    """The JSON event of a ground-truth label (its ``id`` is the request id + ``:label``)."""
    data = {"deployment_id": deployment_id, "request_id": request_id, "label": label}
    return _envelope(f"{request_id}:label", LABEL_TYPE, deployment_id, time, data)


def _envelope(event_id: str, kind: str, deployment_id: str, time: datetime, data: dict) -> bytes:
    event = {
        "specversion": SPECVERSION,
        "id": event_id,
        "source": source_uri(deployment_id),
        "type": kind,
        "time": rfc3339(time),
        "datacontenttype": DATA_CONTENT_TYPE,
        "subject": deployment_id,
        "data": data,
    }
    return json.dumps(event, default=str, separators=(",", ":")).encode()


def decode(
    values: Sequence[bytes], deployment_id: str, names: Mapping[str, str] = DEFAULT_NAMES
) -> tuple[pd.DataFrame, int]:
    """Log rows of the deployment's inference events among ``values``, and how many values
    were not events at all (other types and other deployments are skipped without a count)."""
    rows = []
    undecodable = 0
    for value in values:
        try:
            event = json.loads(value)
            if event.get("type") != INFERENCE_TYPE:
                continue
            data = event["data"]
            if data.get("deployment_id") != deployment_id:
                continue
            rows.append(_row(event, data, names))
        except (ValueError, TypeError, KeyError, AttributeError):
            undecodable += 1
    frame = _frame(rows)
    if len(frame):
        frame[names["timestamp"]] = pd.to_datetime(
            frame[names["timestamp"]], utc=True, format="ISO8601", errors="coerce"
        )  # an unreadable time is NaT: the source counts it (``rows_null_timestamp``)
    return frame, undecodable


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a frame; a column holding a lone surrogate (JSON ``"\\ud800"``, which has no
    UTF-8 form and so no Arrow string) stays object, and profiling counts it as replaced."""
    try:
        return pd.DataFrame.from_records(rows)
    except UnicodeEncodeError:
        frame = pd.DataFrame(rows, dtype=object)
        for name in frame.columns:
            try:
                frame[name] = frame[name].infer_objects()
            except UnicodeEncodeError:
                continue
        return frame


def probability_key(name: str) -> str:
    """The key of class ``name``'s probability column in ``decode``'s ``names``."""
    return f"probabilities.{name}"


def _row(event: dict, data: dict, names: Mapping[str, str]) -> dict[str, Any]:
    row = {names["request_id"]: event["id"], names["timestamp"]: event["time"]}
    row.update(data["inputs"])
    for role, value in data["outputs"].items():
        if role == "probabilities" and isinstance(value, dict):
            for name, probability in value.items():  # each class's, to its own column
                key = probability_key(name)
                row[names.get(key, key)] = probability
        else:
            row[names.get(role, role)] = value
    if data.get("latency_ms") is not None:
        row[names["latency"]] = data["latency_ms"]
    if data.get("model_version") is not None:
        row["model_version"] = data["model_version"]
    row.update(data.get("tags") or {})
    return row
