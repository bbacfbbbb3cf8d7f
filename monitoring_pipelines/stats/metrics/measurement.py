"""What a metric function returns before a threshold is applied: the raw number and its context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Measurement:
    """A metric's value (None when undefined, with the reason in ``detail``) and its p-value."""

    value: float | None
    p_value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def undefined(reason: str) -> Measurement:
    """A measurement that has no value, saying why (e.g. the baseline is constant)."""
    return Measurement(value=None, detail={"undefined": reason})
