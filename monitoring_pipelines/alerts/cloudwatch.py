"""CloudWatch: metric datums for a window's drift results, and a batched, retrying transport.

Metric names: ``drift_score`` (dimensions ModelName, Feature, Metric), ``max_drift_score``,
``drifted_columns``, ``rows_scored`` and, for hours, ``no_data`` (1 when the hour had no rows
or far fewer than usual, else 0; dimension ModelName), stamped at the window start. Drift
against a production reference (``last_week``, ...) adds the dimension Reference to its
``drift_score``, ``max_drift_score`` and ``drifted_columns``; drift against the training
baseline keeps the dimensions above, so existing alarms and dashboards read it unchanged. A
segment's drift (``region=eu``) adds the dimension Segment the same way (the population's has
none). An
hour's performance row adds ``accuracy`` (or ``rmse``), ``estimated_accuracy``,
``latency_p95`` and ``labelled_rows`` (and each segment's, with the dimension Segment); a
decision to retrain adds ``retraining_requested`` (1).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from monitoring_pipelines.stats.references import TRAINING
from monitoring_pipelines.stats.segments import ALL

NAMESPACE_ENV = "CLOUDWATCH_NAMESPACE"
ENDPOINT_ENV = "AWS_ENDPOINT_URL_CLOUDWATCH"
REGION_ENV = "AWS_REGION"
DEFAULT_NAMESPACE = "MonitoringPipelines"
MAX_DATUMS_PER_CALL = 1000
MAX_PAYLOAD_BYTES = 900_000
MAX_AGE = timedelta(days=14)


@dataclass(frozen=True)
class CloudWatchSettings:
    """Namespace, dimension names and endpoint; credentials come from boto3's usual chain.

    ``max_attempts`` counts the first call too (botocore's ``total_max_attempts``).
    """

    namespace: str = DEFAULT_NAMESPACE
    endpoint_url: str | None = None
    region_name: str | None = None
    model_dimension: str = "ModelName"
    feature_dimension: str = "Feature"
    metric_dimension: str = "Metric"
    reference_dimension: str = "Reference"
    segment_dimension: str = "Segment"
    retry_mode: str = "standard"
    max_attempts: int = 5
    timeout_seconds: int = 10

    def __post_init__(self) -> None:
        if self.retry_mode not in ("standard", "adaptive"):
            raise ValueError(
                f"unknown retry_mode {self.retry_mode!r}: choose 'standard' or 'adaptive'"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CloudWatchSettings:
        """Read CLOUDWATCH_NAMESPACE, AWS_ENDPOINT_URL_CLOUDWATCH and AWS_REGION."""
        env = os.environ if env is None else env
        return cls(
            namespace=env.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
            endpoint_url=env.get(ENDPOINT_ENV) or None,
            region_name=env.get(REGION_ENV) or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )


def window_datums(
    deployment_id: str,
    window_start: datetime,
    metrics: Mapping[str, Any],
    settings: CloudWatchSettings,
) -> list[dict[str, Any]]:
    """Datums for one window from an outbox ``cloudwatch`` payload: drift (rows_scored,
    scores), performance, or retraining_requested."""
    model = {"Name": settings.model_dimension, "Value": deployment_id}
    if "scores" not in metrics:
        return _model_datums(model, window_start, metrics, settings.segment_dimension)
    by_reference: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for score in metrics["scores"]:
        group = (score.get("reference") or TRAINING, score.get("segment") or ALL)
        by_reference.setdefault(group, []).append(score)
    datums = []
    summary: list[tuple[str, list[dict[str, str]], float]] = []
    for (reference, segment), scores in by_reference.items():
        named = {"Name": settings.reference_dimension, "Value": reference}
        tag = [] if reference == TRAINING else [named]
        if segment != ALL:
            tag.append({"Name": settings.segment_dimension, "Value": segment})
        valued = [s for s in scores if s["value"] is not None]
        datums.extend(
            _datum(
                "drift_score",
                [
                    model,
                    {"Name": settings.feature_dimension, "Value": s["column_name"]},
                    {"Name": settings.metric_dimension, "Value": s["metric"]},
                    *tag,
                ],
                window_start,
                float(s["value"]),
                "None",
            )
            for s in valued
        )
        drifted = {s["column_name"] for s in scores if s["drifted"]}
        summary.append(("drifted_columns", [model, *tag], float(len(drifted))))
        if valued:
            summary.append(
                ("max_drift_score", [model, *tag], max(float(s["value"]) for s in valued))
            )
    if metrics["rows_scored"] is not None:
        summary.append(("rows_scored", [model], float(metrics["rows_scored"])))
    if "freshness" in metrics:
        summary.append(("no_data", [model], float(metrics["freshness"] != "fresh")))
    for name, dimensions, value in sorted(summary, key=_summary_order):
        unit = "Count" if name != "max_drift_score" else "None"
        datums.append(_datum(name, dimensions, window_start, value, unit))
    return datums


def _model_datums(
    model: dict[str, str],
    window_start: datetime,
    metrics: Mapping[str, Any],
    segment_dimension: str = "Segment",
) -> list[dict[str, Any]]:
    """Performance (metric → value) and retraining datums, dimension ModelName only; each
    segment's performance with the segment's dimension too."""
    values = dict(metrics.get("performance") or {})
    if "retraining_requested" in metrics:
        values["retraining_requested"] = metrics["retraining_requested"]
    units = {"labelled_rows": "Count", "retraining_requested": "Count"}
    datums = [
        _datum(name, [model], window_start, float(value), units.get(name, "None"))
        for name, value in sorted(values.items())
    ]
    for segment, numbers in sorted((metrics.get("segments") or {}).items()):
        tag = [model, {"Name": segment_dimension, "Value": segment}]
        datums += [
            _datum(name, tag, window_start, float(value), units.get(name, "None"))
            for name, value in sorted(numbers.items())
        ]
    return datums


SUMMARY_ORDER = ("drifted_columns", "rows_scored", "max_drift_score", "no_data")


def _summary_order(item: tuple[str, list, float]) -> tuple[int, int]:
    """The summary datums in their historical order, training's before other references'."""
    name, dimensions, _ = item
    return len(dimensions), SUMMARY_ORDER.index(name)


def _datum(
    name: str, dimensions: list[dict[str, str]], stamp: datetime, value: float, unit: str
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": stamp,
        "Value": value,
        "Unit": unit,
    }


def batches(datums: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Split into PutMetricData calls: at most 1000 datums and well under 1 MB each."""
    batch: list[dict[str, Any]] = []
    size = 0
    for datum in datums:
        datum_size = len(json.dumps(datum, default=str))
        if batch and (len(batch) == MAX_DATUMS_PER_CALL or size + datum_size > MAX_PAYLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(datum)
        size += datum_size
    if batch:
        yield batch


def too_old(window_start: datetime, now: datetime | None = None) -> bool:
    """CloudWatch rejects datums older than two weeks."""
    return window_start < (now or datetime.now(UTC)) - MAX_AGE


class CloudWatchTransport:
    """``put_metric_data`` (and optional alarms) through boto3 with standard/adaptive retries."""

    def __init__(self, settings: CloudWatchSettings) -> None:
        self.settings = settings
        self._client = boto3.client(
            "cloudwatch",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region_name,
            config=Config(
                retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
                connect_timeout=settings.timeout_seconds,
                read_timeout=settings.timeout_seconds,
            ),
        )

    def put(self, datums: Sequence[dict[str, Any]]) -> int:
        """Send the datums in as few calls as the limits allow; returns the number of calls."""
        calls = 0
        for batch in batches(datums):
            self._client.put_metric_data(Namespace=self.settings.namespace, MetricData=batch)
            calls += 1
        return calls

    def put_drift_alarm(
        self, deployment_id: str, threshold: float, alarm_actions: Sequence[str] = ()
    ) -> str:
        """Create or update the deployment's alarm on ``max_drift_score`` (hourly maximum)."""
        name = f"{self.settings.namespace}-{deployment_id}-max_drift_score"
        self._client.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=f"Maximum drift score of {deployment_id} reached {threshold}",
            Namespace=self.settings.namespace,
            MetricName="max_drift_score",
            Dimensions=[{"Name": self.settings.model_dimension, "Value": deployment_id}],
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=list(alarm_actions),
        )
        return name
