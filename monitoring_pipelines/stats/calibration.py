"""Drift thresholds calibrated to the window's size: each distance metric's sampling noise on
identical distributions, learned from the reference at baseline time.

A distance on two samples of one distribution is not 0: it shrinks with the window's rows
(PSI about like 1/n, Wasserstein and TVD like 1/√n) and depends on the column's shape (a
60-category Zipf column or a t(2) column is noisier than a normal one). So the reference
rows are split at random in two halves, both counted on the baseline's bins and categories
(so the binning's own error is part of the noise); windows of each calibration size, drawn
with replacement from one half, are scored against the other. The mean and standard
deviation of the metric per size make the column's :class:`NoiseCurve`, stored with the
baseline. At n rows the noise threshold is mean + k·σ (k = ``sigmas``), linear in 1/√n
between calibration sizes, ∝ 1/√n beyond the largest; the threshold applied is the larger
of it and the configured one, which stays the smallest effect worth an alarm.

Against a production reference of m values (``stats.references``) the reference's own noise
counts too. To first order the null spread of every distance here depends on the two sizes
through 1/n + 1/m only (PSI and χ²-like sums on 1/n + 1/m, TVD, KS and Wasserstein on its
square root), and a curve's size s was measured against a reference half of h values, i.e. at
1/s + 1/h. So the curve is read at the :func:`effective_size` s with 1/s = 1/n + 1/m − 1/h:
smaller than n when m < h (a higher threshold), n itself when m ≥ h (training: m = 2h).
The column's shape (how noisy it is) is still the training data's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.dataset import DatasetProfile, reference_categories
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.profile import (
    ColumnProfile,
    NumericalProfile,
    profile_categorical,
)

CALIBRATION_SIZES = (100, 300, 1_000, 3_000, 10_000, 30_000)
DEFAULT_REPEATS = 60
DEFAULT_SIGMAS = 6.0
Calibration = dict[str, dict[str, "NoiseCurve"]]  # column → metric → curve


@dataclass(frozen=True)
class NoiseCurve:
    """A metric's mean and standard deviation on identical distributions, per window size."""

    sizes: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    def threshold(self, n: float, sigmas: float = DEFAULT_SIGMAS) -> float:
        """mean + sigmas·σ at ``n`` values, interpolated linearly in 1/√n."""
        x = 1.0 / np.sqrt(np.asarray(self.sizes, dtype=float))
        y = np.asarray(self.means) + sigmas * np.asarray(self.stds)
        y = np.maximum.accumulate(y[::-1])[::-1]  # never lower on fewer rows
        at = 1.0 / math.sqrt(max(n, 1.0))
        if at <= x[-1]:  # beyond the largest size: noise ∝ 1/√n
            return float(y[-1] * at / x[-1])
        if at >= x[0] and x.size > 1:  # below the smallest: the first segment, extended
            slope = (y[0] - y[1]) / (x[0] - x[1])
            return float(y[0] + slope * (at - x[0]))
        return float(np.interp(at, x[::-1], y[::-1]))


def effective_size(n: float, reference: float, calibrated: float) -> float:
    """The curve size at which a window of ``n`` values against a reference of ``reference``
    values is as noisy as calibrated (``calibrated``: the reference half the curve used)."""
    extra = 1.0 / max(reference, 1.0) - 1.0 / max(calibrated, 1.0)
    n = max(n, 1.0)
    return n if extra <= 0 else 1.0 / (1.0 / n + extra)


def calibrate(
    frame: pd.DataFrame,
    baseline: DatasetProfile,
    metrics: Mapping[str, Sequence[str]],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    sizes: Sequence[int] = CALIBRATION_SIZES,
    repeats: int = DEFAULT_REPEATS,
    rng: np.random.Generator | None = None,
) -> Calibration:
    """Noise curves of the distance metrics of each column (``metrics``: column → keys)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    order = rng.permutation(len(frame))
    fit_rows, draw_rows = order[: len(order) // 2], order[len(order) // 2 :]
    out: Calibration = {}
    for name, keys in metrics.items():
        distances = [k for k in keys if get_spec(k).decision == "distance"]
        if not distances or draw_rows.size == 0:
            continue
        values = frame[name].to_numpy()
        curves = _column_curves(
            baseline.columns[name],
            values[fit_rows],
            values[draw_rows],
            distances,
            params or {},
            sizes,
            repeats,
            rng,
        )
        if curves:
            out[name] = curves
    return out


def _real_scale(metric: str, real: ColumnProfile, params: Mapping[str, Any]) -> float | None:
    """The scale a normalised distance (Wasserstein / σ) divides by on the real baseline."""
    return get_spec(metric).function(real, real, **params).detail.get("scale")


def _value(measurement: Measurement, scale: float | None) -> float | None:
    """The value; for a normalised distance, its distance divided by the real baseline's
    scale: on heavy tails the two halves' σ differ by a third, and windows are judged on
    the real one."""
    if scale is None or "distance" not in measurement.detail:
        return measurement.value
    return measurement.detail["distance"] / scale


def _column_curves(
    real: ColumnProfile,
    fit_values: np.ndarray,
    draw_values: np.ndarray,
    metrics: Sequence[str],
    params: Mapping[str, Mapping[str, Any]],
    sizes: Sequence[int],
    repeats: int,
    rng: np.random.Generator,
) -> dict[str, NoiseCurve]:
    """Score windows of each size from one half against the other half, both counted on the
    real baseline's bins and categories (the binning's own error is part of the noise)."""
    if isinstance(real, NumericalProfile):
        profile = real.like
    else:
        known = reference_categories(real)

        def profile(values: np.ndarray) -> ColumnProfile:
            return profile_categorical(pd.Series(values, dtype=object), known, real.max_categories)

    pseudo = profile(fit_values)
    if pseudo.count == 0:
        return {}
    scales = {m: _real_scale(m, real, params.get(m, {})) for m in metrics}
    samples: dict[str, list[list[float]]] = {m: [] for m in metrics}
    counts: dict[str, list[float]] = {m: [] for m in metrics}
    for size in sizes:
        per_metric: dict[str, list[float]] = {m: [] for m in metrics}
        seen: dict[str, list[int]] = {m: [] for m in metrics}
        for _ in range(_repeats(size, repeats)):
            window = profile(draw_values[rng.integers(0, draw_values.size, size)])
            for metric in metrics:
                spec = get_spec(metric)
                n = window.rows if spec.sizes == "rows" else window.count
                if n == 0:
                    continue
                value = _value(
                    spec.function(pseudo, window, **params.get(metric, {})), scales[metric]
                )
                if value is not None and math.isfinite(value):
                    per_metric[metric].append(value)
                    seen[metric].append(n)
        for metric in metrics:
            if len(per_metric[metric]) >= 2:
                samples[metric].append(per_metric[metric])
                counts[metric].append(float(np.mean(seen[metric])))
    return {
        metric: NoiseCurve(
            sizes=tuple(counts[metric]),
            means=tuple(float(np.mean(s)) for s in samples[metric]),
            stds=tuple(float(np.std(s, ddof=1)) for s in samples[metric]),
        )
        for metric in metrics
        if counts[metric]
    }


def _repeats(size: int, repeats: int) -> int:
    """More windows at the small sizes, where they are cheap and a heavy tail shows most."""
    return max(repeats, round(repeats * math.sqrt(3_000 / size)))
