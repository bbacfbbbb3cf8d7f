"""``decide_many`` (the batch's decision, a distance's bands in one array operation) gives
``decide``'s status and flag for every measurement of every registered metric: values on each
band bound and either side of it, NaN and None, thresholds below, on and above the value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring_pipelines.stats.drift import decide, decide_many
from monitoring_pipelines.stats.metrics.registry import METRICS


def _around(bounds: list[float]) -> list[float | None]:
    finite = [b for b in bounds if math.isfinite(b)]
    near = [x for b in finite for x in (np.nextafter(b, -np.inf), b, np.nextafter(b, np.inf))]
    return [*map(float, near), 0.0, 1e-300, 1e6, math.nan, None]


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_decide_many_equals_decide(metric: str) -> None:
    spec = METRICS[metric]
    rng = np.random.default_rng(len(metric))
    points = _around([bound for bound, _ in spec.bands])
    if spec.decision == "p_value":  # a p-value lies in [0, 1]
        points = [p for p in points if p is None or math.isnan(p) or 0.0 <= p <= 1.0]
    values, p_values, thresholds = [], [], []
    for point in points:
        given = [] if point is None or math.isnan(point) else [point]
        for threshold in (*given, 0.05, spec.threshold, 1e9):
            values.append(point if spec.decision == "distance" else float(rng.random()))
            p_values.append(point if spec.decision == "p_value" else None)
            thresholds.append(threshold)
    statuses, flags = decide_many(spec, values, p_values, thresholds)
    expected = [decide(spec, v, p, t) for v, p, t in zip(values, p_values, thresholds, strict=True)]
    assert list(zip(statuses, flags, strict=True)) == expected
    assert len({status for status, _ in expected}) >= 3  # several bands and undefined reached


def test_a_value_beyond_every_band_fails_as_decide_does() -> None:
    spec = METRICS["psi"]
    with pytest.raises(StopIteration):
        decide(spec, math.inf, None, 0.1)
    with pytest.raises(StopIteration):
        decide_many(spec, [0.01, math.inf], [None, None], [0.1, 0.1])
