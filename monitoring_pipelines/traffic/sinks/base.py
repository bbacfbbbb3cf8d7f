"""The sink interface: write one batch of records, raise when it could not."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from monitoring_pipelines.traffic.records import Inference, Label, Schema


class SinkError(RuntimeError):
    """A batch (or part of it) was not written; ``undelivered`` lists the records to retry
    (None: the whole batch). The message never holds a secret."""

    def __init__(self, message: str, undelivered: Sequence[Any] | None = None):
        super().__init__(message)
        self.undelivered = undelivered


class Sink(ABC):
    """Writes batches of :class:`Inference` and :class:`Label` records, all or nothing per call
    unless it raises :class:`SinkError` naming what is left."""

    schema: Schema = Schema()

    def bind(self, schema: Schema) -> None:
        """Use the logger's column names (called once by :class:`MonitoringLogger`)."""
        self.schema = schema

    @property
    def takes_labels(self) -> bool:
        """Whether ``log_label`` records have somewhere to go."""
        return True

    @abstractmethod
    def write(self, batch: Sequence[Inference | Label]) -> None:
        """Deliver the batch or raise."""

    def close(self) -> None:  # noqa: B027 (most sinks hold nothing to release)
        """Release connections (the logger has flushed before)."""


def split(batch: Sequence[Inference | Label]) -> tuple[list[Inference], list[Label]]:
    """The batch's inferences and labels, each in order."""
    inferences = [r for r in batch if isinstance(r, Inference)]
    labels = [r for r in batch if isinstance(r, Label)]
    return inferences, labels


def label_row(record: Label) -> dict[str, Any]:
    """The row of one label in the labels layout (see the README's "Log your model's traffic")."""
    return {
        "deployment_id": record.deployment_id,
        "request_id": record.request_id,
        "label": record.label,
        "label_timestamp": record.timestamp,
    }
