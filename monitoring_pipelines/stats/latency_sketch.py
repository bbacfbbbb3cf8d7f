"""Mergeable latency percentiles: a DDSketch-style histogram on fixed log-spaced buckets.

Bucket i holds values in (γ^(i-1), γ^i] with γ = (1 + α) / (1 − α) and reports
2γ^i / (γ + 1), so every quantile it answers is within relative error α of the value of
the same rank (the ``lower`` order statistic of :func:`numpy.percentile`). The buckets
depend on α only, never on the data: two hours' sketches merge by adding counts, and a
day's p95 from its 24 hours equals the p95 of a sketch of the whole day. Values at or
below :data:`MIN_VALUE` (zero latencies) are counted apart and reported as 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_RELATIVE_ACCURACY = 0.01
MIN_VALUE = 1e-9


@dataclass(frozen=True)
class LatencySketch:
    """Counts per log bucket (index → count), the zero bucket and the relative accuracy α."""

    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    buckets: Mapping[int, int] = field(default_factory=dict)
    zeros: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.relative_accuracy < 1:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {self.relative_accuracy}")

    @property
    def gamma(self) -> float:
        return (1 + self.relative_accuracy) / (1 - self.relative_accuracy)

    @property
    def count(self) -> int:
        return self.zeros + sum(self.buckets.values())

    @classmethod
    def from_values(
        cls, values: Any, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    ) -> LatencySketch:
        """Sketch of the finite values (NaN is skipped); a negative latency is an error."""
        array = np.asarray(values, dtype=float)
        array = array[np.isfinite(array)]
        if array.size and array.min() < 0:
            raise ValueError(f"latency must be >= 0, got {float(array.min())}")
        empty = cls(relative_accuracy)
        positive = array[array > MIN_VALUE]
        index = np.ceil(np.log(positive) / math.log(empty.gamma)).astype(np.int64)
        keys, counts = np.unique(index, return_counts=True)
        buckets = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        return cls(relative_accuracy, buckets, int(array.size - positive.size))

    def merge(self, other: LatencySketch) -> LatencySketch:
        """The sketch of both samples together (same α required)."""
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError(
                f"cannot merge sketches of relative accuracy {self.relative_accuracy} "
                f"and {other.relative_accuracy}"
            )
        buckets = dict(self.buckets)
        for key, count in other.buckets.items():
            buckets[key] = buckets.get(key, 0) + count
        return LatencySketch(self.relative_accuracy, buckets, self.zeros + other.zeros)

    def quantile(self, q: float) -> float | None:
        """The value of rank ⌊q·(n − 1)⌋ within relative error α; None when empty."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        n = self.count
        if n == 0:
            return None
        rank = math.floor(q * (n - 1))
        if rank < self.zeros:
            return 0.0
        keys = np.array(sorted(self.buckets), dtype=np.int64)
        cumulative = self.zeros + np.cumsum([self.buckets[k] for k in keys.tolist()])
        key = int(keys[np.searchsorted(cumulative, rank, side="right")])
        return 2 * self.gamma**key / (self.gamma + 1)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (bucket keys as strings) for storage."""
        return {
            "relative_accuracy": self.relative_accuracy,
            "zeros": self.zeros,
            "buckets": {str(k): v for k, v in sorted(self.buckets.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencySketch:
        """Inverse of :meth:`to_json`."""
        buckets = {int(k): int(v) for k, v in data["buckets"].items()}
        return cls(float(data["relative_accuracy"]), buckets, int(data["zeros"]))
