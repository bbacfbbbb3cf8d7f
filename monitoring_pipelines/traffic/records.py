"""What the logging client records, and how a record becomes a row of the log layout.

An :class:`Inference` is one scored request (inputs, outputs, latency, tags); a :class:`Label`
is the ground truth sent later for a request id. A :class:`Schema` names the log columns
(from the deployment's ``monitors.yaml`` roles when available) and checks records against the
declared columns: a missing column or a value of the wrong kind is counted, an unknown column
is kept as an extra and counted, nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitoring_pipelines.config import DeploymentConfig

OUTPUTS = ("prediction", "confidence", "score")
PROBABILITIES = "probabilities"  # the output holding each class's probability


@dataclass(frozen=True)
class Inference:
    """One scored request."""

    deployment_id: str
    request_id: str
    timestamp: datetime
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    latency_ms: float | None = None
    model_version: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Label:
    """Ground truth for an earlier request, sent when it becomes known."""

    deployment_id: str
    request_id: str
    label: Any
    timestamp: datetime


def utc(value: datetime | None) -> datetime:
    """``value`` as an aware UTC datetime (naive is taken as UTC); now when None."""
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, datetime):
        raise TypeError(f"timestamp must be a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PLAIN_TYPES = (str, int, bool, type(None))


def plain(value: Any) -> Any:
    """numpy / pandas scalars as Python values (JSON- and Arrow-friendly); NaN as None."""
    kind = type(value)
    if kind is float:
        return None if math.isnan(value) else value
    if kind in PLAIN_TYPES:  # the common case, without the generic probing below
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        with contextlib.suppress(TypeError, ValueError):  # arrays of several values stay
            value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class Schema:
    """Column names of the log layout, and the declared kinds used to check records.

    ``kinds`` maps a declared column to ``"numerical"`` / ``"categorical"`` (None: not checked);
    an empty ``kinds`` means no configuration is known and nothing is checked.
    ``probabilities`` maps a multiclass model's class to the column of its probability
    (``labels.probabilities`` in monitors.yaml).
    """

    timestamp: str = "timestamp"
    request_id: str = "request_id"
    prediction: str = "prediction"
    confidence: str = "confidence"
    score: str = "score"
    latency: str = "latency_ms"
    label: str = "label"
    kinds: Mapping[str, str | None] = field(default_factory=dict)
    probabilities: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_deployment(cls, deployment: DeploymentConfig) -> Schema:
        """Names from the deployment's column roles (defaults where a role is not declared)."""
        from monitoring_pipelines.config import Role

        names = {}
        for attribute, role in (
            ("timestamp", Role.TIMESTAMP),
            ("request_id", Role.REQUEST_ID),
            ("prediction", Role.PREDICTION),
            ("confidence", Role.CONFIDENCE),
            ("score", Role.SCORE),
            ("latency", Role.LATENCY),
            ("label", Role.LABEL),
        ):
            column = deployment.column_with_role(role)
            if column is not None:
                names[attribute] = column.name
        timestamp_column = getattr(deployment.logs, "timestamp_column", None)
        if timestamp_column:
            names["timestamp"] = timestamp_column
        kinds = {c.name: c.type.value if c.type else None for c in deployment.columns}
        labels = deployment.labels
        probabilities = dict(labels.probabilities or {}) if labels is not None else {}
        return cls(**names, kinds=kinds, probabilities=probabilities)

    @property
    def reserved(self) -> set[str]:
        """Columns the client fills itself (not features)."""
        return {
            self.timestamp,
            self.request_id,
            self.prediction,
            self.confidence,
            self.score,
            self.latency,
            *self.probabilities.values(),
        }

    def features(self) -> list[str]:
        """Declared columns the caller supplies as inputs (everything but the reserved roles)."""
        reserved = self.reserved
        return [n for n in self.kinds if n not in reserved and n != self.label]

    def row(self, record: Inference) -> dict[str, Any]:
        """The flat log row of one inference: request id, timestamp, inputs, outputs, tags."""
        row: dict[str, Any] = {self.request_id: record.request_id, self.timestamp: record.timestamp}
        row.update(record.inputs)
        for output in OUTPUTS:
            if output in record.outputs:
                row[getattr(self, output)] = record.outputs[output]
        for name, value in record.outputs.get(PROBABILITIES, {}).items():
            row[self.probabilities[name]] = value
        if record.latency_ms is not None:
            row[self.latency] = record.latency_ms
        if record.model_version is not None:
            row["model_version"] = record.model_version
        row.update(record.tags)
        return row


class Checker:
    """Counts what records lack or carry beyond the schema; values of the wrong kind become
    missing (and are counted), so one bad value never blocks a whole batch."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self._reserved = schema.reserved
        self._features = schema.features()
        self.missing: Counter[str] = Counter()
        self.invalid: Counter[str] = Counter()
        self.extra: Counter[str] = Counter()

    def inputs(self, inputs: Mapping[str, Any], tags: Mapping[str, Any]) -> dict[str, Any]:
        """Checked inputs (plain Python values); tags colliding with a column are refused."""
        clashes = sorted(set(tags) & (set(inputs) | self._reserved)) if tags else None
        if clashes:
            raise ValueError(f"tags {clashes} collide with logged columns: rename them")
        checked = {str(name): plain(value) for name, value in inputs.items()}
        kinds = self.schema.kinds
        if not kinds:
            return checked
        for name in self._features:
            if name not in checked:
                self.missing[name] += 1
        for name in [*checked, *tags]:
            if name not in kinds:
                self.extra[name] += 1
        for name, value in checked.items():
            if kinds.get(name) == "numerical" and not _number(value):
                if value is not None:
                    self.invalid[name] += 1
                checked[name] = None
        return checked

    def probabilities(self, values: Mapping[Any, Any]) -> dict[str, Any]:
        """Each class's probability (plain Python numbers; one not a number becomes missing
        and is counted); a class without a probability column is refused, naming it."""
        if not isinstance(values, Mapping):
            raise TypeError(f"probabilities must map class to probability, got {type(values)}")
        columns = self.schema.probabilities
        checked = {str(name): plain(value) for name, value in values.items()}
        unknown = sorted(set(checked) - set(columns))
        if unknown:
            declared = sorted(columns) or "none: declare labels.probabilities in monitors.yaml"
            raise ValueError(
                f"probabilities for class(es) {unknown} that have no probability column "
                f"(declared classes: {declared})"
            )
        for name, value in checked.items():
            if not _number(value):
                if value is not None:
                    self.invalid[columns[name]] += 1
                checked[name] = None
        return checked


def _number(value: Any) -> bool:
    kind = type(value)
    if kind is float or kind is int:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
