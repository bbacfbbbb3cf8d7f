"""Wasserstein-1 distance normalised by the baseline standard deviation (``wasserstein``).

- Column kinds: numerical.
- Formula: W = ∫ |F_b(x) − F_c(x)| dx / max(σ_b, ``std_floor``); σ_b is the
  baseline's population std (ddof = 0) and ``std_floor`` (default 1e-3, as
  Evidently) stands in when the baseline is constant.
- On profiles each CDF is taken as linear inside a bin (values spread evenly) and
  |F_b − F_c| is integrated exactly bin by bin. The open-ended outer bins span from
  the smaller of the two profiles' minima to the first finite edge, and from the
  last finite edge to the larger maximum. Evenly spread is a poor guess in the
  long tails, so the two tail regions (outer bin plus first / last regular bin)
  are anchored on the exact means: ∫(F_b − F_c) dx = μ_c − μ_b, and the part of
  that identity the inner bins do not explain is given to the tails, in proportion
  to their own estimates. (Skipped when either side holds ±inf values: those count
  in the outer bins at the min / max positions.)
- Error bound: ``detail["error_bound"]`` is the largest possible |raw W − binned W|,
  from the aggregates alone. Inside bin i the raw |F_b − F_c| lies between the
  smallest and largest |·| of [d_i − q_i, d_i + p_i] (d_i the exact CDF difference at
  the bin's lower edge, p_i and q_i the two bin shares); times the bin's width (its
  edges clipped to the two profiles' exact min and max, which closes the open outer
  bins) and summed, that gives an interval [L, U] for ∫|F_b − F_c| dx, with L raised
  to |μ_c − μ_b| (the exact means fix ∫(F_b − F_c) dx). The bound is
  max(U − W̃, W̃ − L) / scale for the binned distance W̃ (``metrics/bounds.py``), over
  the finite values (±inf counts taken out of the outer bins). It grows with the width
  of a bin times the share either sample has in it, so it is widest on heavy tails
  (a window reaching far beyond the training range) and on point masses.
- Discrete columns (exact value counts on both sides, nothing folded): the sum over the
  distinct finite values of |F_b − F_c| times the gap to the next value, which is
  exactly the raw-sample distance (``error_bound`` 0).
- On raw samples (``stats.drift.score``) it is exactly
  ``scipy.stats.wasserstein_distance`` of the finite values / max(std, floor).
- Range: [0, ∞). Not symmetric (scaled by the baseline). W ≥ z_score (a mean
  shift moves every value). Default threshold: 0.1 (Evidently's), the effect-size floor:
  the threshold applied by the pipeline is calibrated to the window's size
  (``stats.calibration``), since on clean 500-row windows W averages about 0.05 and on a
  t(2) column it reaches 0.7.

| W            | status      |
|--------------|-------------|
| < 0.1        | stable      |
| 0.1 – 0.2    | small       |
| 0.2 – 0.5    | moderate    |
| ≥ 0.5        | significant |
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from monitoring_pipelines.stats.metrics.bounds import w1_range
from monitoring_pipelines.stats.metrics.distributions import (
    aligned_counts,
    exact_values,
    value_cells,
)
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.profile import NumericalProfile

DEFAULT_STD_FLOOR = 1e-3


def wasserstein(
    reference: NumericalProfile, current: NumericalProfile, *, std_floor: float = DEFAULT_STD_FLOOR
) -> Measurement:
    """Normalised W1 between the two histograms, tails anchored on the exact means (exact
    on discrete columns)."""
    if exact_values(reference, current):
        return _exact(reference, current, std_floor)
    ref_counts, cur_counts = aligned_counts(reference, current)
    x = bin_positions(reference, current)
    diff = np.zeros(x.size)
    diff[1:] = np.cumsum(ref_counts) / ref_counts.sum() - np.cumsum(cur_counts) / cur_counts.sum()
    absolute, signed = bin_integrals(diff[:-1], diff[1:], np.diff(x))
    if x.size < 6 or not (_all_finite(reference) and _all_finite(current)):
        distance = float(absolute.sum())
    else:
        low, high = signed[:2].sum(), signed[-2:].sum()
        residual = (current.mean - reference.mean) - (signed[2:-2].sum() + low + high)
        weight_low, weight_high = (abs(low), abs(high)) if low or high else (1.0, 1.0)
        low += residual * weight_low / (weight_low + weight_high)
        high += residual * weight_high / (weight_low + weight_high)
        distance = float(absolute[2:-2].sum() + abs(low) + abs(high))
    result = _normalised(distance, reference.std, std_floor)
    if reference.n_finite and current.n_finite:
        lower, upper = w1_range(
            _finite_counts(reference),
            _finite_counts(current),
            _clipped_edges(reference, current),
            current.mean - reference.mean,
        )
        bound = max(upper - distance, distance - lower, 0.0) / result.detail["scale"]
        result.detail["error_bound"] = bound
    return result


def _finite_counts(profile: NumericalProfile) -> np.ndarray:
    """Bin counts of the finite values only (±inf taken out of the outer bins)."""
    counts = profile.counts.astype(np.float64)
    counts[0] -= profile.neg_inf
    counts[-1] -= profile.pos_inf
    return counts


def _clipped_edges(reference: NumericalProfile, current: NumericalProfile) -> np.ndarray:
    """The edges clipped to [min, max] of both profiles' finite values, where all of them lie."""
    return np.clip(
        reference.edges,
        np.fmin(reference.min, current.min),
        np.fmax(reference.max, current.max),
    )


def _exact(reference: NumericalProfile, current: NumericalProfile, std_floor: float) -> Measurement:
    """W1 of the finite values from their exact counts, as ``wasserstein_distance``."""
    positions, ref_counts, cur_counts = value_cells(reference, current)
    x, ref_counts, cur_counts = positions[1:-1], ref_counts[1:-1], cur_counts[1:-1]
    if not ref_counts.sum() or not cur_counts.sum():
        return Measurement(value=None, detail={"undefined": "no finite values"})
    diff = np.cumsum(ref_counts) / ref_counts.sum() - np.cumsum(cur_counts) / cur_counts.sum()
    distance = float(np.sum(np.abs(diff[:-1]) * np.diff(x)))
    result = _normalised(distance, reference.std, std_floor)
    result.detail["error_bound"] = 0.0
    return result


def wasserstein_raw(
    reference: np.ndarray, current: np.ndarray, *, std_floor: float = DEFAULT_STD_FLOOR
) -> Measurement:
    """Exact normalised W1 of the finite raw values (``scipy.stats.wasserstein_distance``)."""
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if reference.size == 0 or current.size == 0:
        return Measurement(value=None, detail={"undefined": "no finite values"})
    distance = float(stats.wasserstein_distance(reference, current))
    return _normalised(distance, float(np.std(reference)), std_floor)


def bin_positions(reference: NumericalProfile, current: NumericalProfile) -> np.ndarray:
    """Finite positions of the edges: the outer ±inf edges move to the observed min / max."""
    x = reference.edges.copy()
    if x.size == 2:
        low = np.fmin(reference.min, current.min)
        high = np.fmax(reference.max, current.max)
        x[0], x[1] = (0.0, 0.0) if np.isnan(low) else (low, high)
        return x
    x[0] = np.fmin(np.fmin(reference.min, current.min), x[1])
    x[-1] = np.fmax(np.fmax(reference.max, current.max), x[-2])
    return x


def bin_integrals(a: np.ndarray, b: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """∫|D| and ∫D over each bin for D linear from ``a`` to ``b`` across the bin."""
    total = np.abs(a) + np.abs(b)
    safe = np.where(total > 0, total, 1.0)
    absolute = np.where(a * b >= 0, 0.5 * total, 0.5 * (a * a + b * b) / safe) * width
    return absolute, 0.5 * (a + b) * width


def _all_finite(profile: NumericalProfile) -> bool:
    return profile.pos_inf == 0 and profile.neg_inf == 0


def _normalised(distance: float, std: float, std_floor: float) -> Measurement:
    if not std_floor > 0:
        raise ValueError(f"wasserstein: std_floor must be positive, got {std_floor!r}")
    scale = std if std > std_floor else std_floor
    return Measurement(value=distance / scale, detail={"distance": distance, "scale": scale})
