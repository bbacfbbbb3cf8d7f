"""Every drift metric, in one literal mapping from its snake_case key to a frozen spec.

A spec says which function computes the metric, on which column kinds, whether it
is a distance (drift when value ≥ threshold) or a test (drift when p-value <
threshold), its default threshold, the range of its value and its status bands.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from monitoring_pipelines.stats.metrics.anderson_darling import (
    anderson_darling,
    anderson_darling_raw,
)
from monitoring_pipelines.stats.metrics.chi_squared import chi_squared
from monitoring_pipelines.stats.metrics.cramer_von_mises import (
    cramer_von_mises,
    cramer_von_mises_raw,
)
from monitoring_pipelines.stats.metrics.g_test import g_test
from monitoring_pipelines.stats.metrics.hellinger import hellinger
from monitoring_pipelines.stats.metrics.hellinger_gaussian import hellinger_gaussian
from monitoring_pipelines.stats.metrics.jensen_shannon import jensen_shannon
from monitoring_pipelines.stats.metrics.kl_divergence import kl_divergence
from monitoring_pipelines.stats.metrics.ks import ks, ks_raw
from monitoring_pipelines.stats.metrics.linf import linf
from monitoring_pipelines.stats.metrics.measurement import Measurement
from monitoring_pipelines.stats.metrics.missing_rate import missing_rate
from monitoring_pipelines.stats.metrics.psi import psi
from monitoring_pipelines.stats.metrics.reconstruction_error import reconstruction_error
from monitoring_pipelines.stats.metrics.tvd import tvd
from monitoring_pipelines.stats.metrics.two_proportion_z import two_proportion_z
from monitoring_pipelines.stats.metrics.wasserstein import wasserstein, wasserstein_raw
from monitoring_pipelines.stats.metrics.z_score import z_score
from monitoring_pipelines.stats.profile import Kind

INF = math.inf
BOTH = (Kind.NUMERICAL, Kind.CATEGORICAL)
NUMERICAL = (Kind.NUMERICAL,)
TEST_BANDS = ((0.05, "stable"), (0.001, "drifting"), (0.0, "critical"))
HELLINGER_BANDS = (
    (0.05, "stable"),
    (0.15, "small"),
    (0.3, "moderate"),
    (0.5, "large"),
    (INF, "severe"),
)


@dataclass(frozen=True)
class MetricSpec:
    """How to compute, bound and judge one metric.

    ``bands`` for a distance: (upper bound, status) ascending, value < bound picks the
    status. For a test: (lower bound, status) descending, p-value ≥ bound picks it.
    ``raw`` computes the metric exactly on raw numerical samples; metrics without it
    are computed on the pipeline's binning of the reference. ``sizes`` is "values"
    (non-missing values) or "rows" (every row, for missing-value metrics).
    """

    function: Callable[..., Measurement]
    kinds: tuple[Kind, ...]
    decision: Literal["distance", "p_value"]
    threshold: float
    bounds: tuple[float, float]
    bands: tuple[tuple[float, str], ...]
    raw: Callable[..., Measurement] | None = None
    sizes: Literal["values", "rows"] = "values"


METRICS: dict[str, MetricSpec] = {
    "psi": MetricSpec(
        psi,
        BOTH,
        "distance",
        0.1,
        (0.0, INF),
        ((0.1, "stable"), (0.25, "moderate"), (INF, "significant")),
    ),
    "tvd": MetricSpec(
        tvd,
        BOTH,
        "distance",
        0.2,
        (0.0, 1.0),
        ((0.2, "stable"), (0.3, "concerning"), (0.35, "drifting"), (INF, "critical")),
    ),
    # the TVD of a segment key's value shares (stats.segment_scoring): a new region or a
    # channel whose traffic moves by 10 points of share is itself a drift signal
    "segment_share": MetricSpec(
        tvd,
        (Kind.CATEGORICAL,),
        "distance",
        0.1,
        (0.0, 1.0),
        ((0.1, "stable"), (0.2, "shifting"), (INF, "shifted")),
    ),
    "jensen_shannon": MetricSpec(
        jensen_shannon,
        BOTH,
        "distance",
        0.1,
        (0.0, 1.0),
        ((0.1, "stable"), (0.2, "moderate"), (INF, "significant")),
    ),
    "hellinger": MetricSpec(hellinger, BOTH, "distance", 0.15, (0.0, 1.0), HELLINGER_BANDS),
    "hellinger_gaussian": MetricSpec(
        hellinger_gaussian, NUMERICAL, "distance", 0.15, (0.0, 1.0), HELLINGER_BANDS
    ),
    "ks": MetricSpec(ks, NUMERICAL, "p_value", 0.05, (0.0, 1.0), TEST_BANDS, raw=ks_raw),
    "chi_squared": MetricSpec(
        chi_squared, (Kind.CATEGORICAL,), "p_value", 0.05, (0.0, INF), TEST_BANDS
    ),
    "wasserstein": MetricSpec(
        wasserstein,
        NUMERICAL,
        "distance",
        0.1,
        (0.0, INF),
        ((0.1, "stable"), (0.2, "small"), (0.5, "moderate"), (INF, "significant")),
        raw=wasserstein_raw,
    ),
    "z_score": MetricSpec(
        z_score,
        NUMERICAL,
        "distance",
        0.5,
        (0.0, INF),
        ((0.5, "stable"), (1.5, "moderate"), (3.0, "large"), (INF, "extreme")),
    ),
    "linf": MetricSpec(
        linf,
        BOTH,
        "distance",
        0.1,
        (0.0, 1.0),
        ((0.1, "stable"), (0.3, "moderate"), (INF, "significant")),
    ),
    "kl_divergence": MetricSpec(
        kl_divergence,
        BOTH,
        "distance",
        0.1,
        (0.0, INF),
        ((0.1, "stable"), (0.25, "moderate"), (INF, "significant")),
    ),
    "anderson_darling": MetricSpec(
        anderson_darling,
        NUMERICAL,
        "p_value",
        0.05,
        (-INF, INF),
        TEST_BANDS,
        raw=anderson_darling_raw,
    ),
    "cramer_von_mises": MetricSpec(
        cramer_von_mises,
        NUMERICAL,
        "p_value",
        0.05,
        (0.0, INF),
        TEST_BANDS,
        raw=cramer_von_mises_raw,
    ),
    "g_test": MetricSpec(g_test, (Kind.CATEGORICAL,), "p_value", 0.05, (0.0, INF), TEST_BANDS),
    "two_proportion_z": MetricSpec(two_proportion_z, BOTH, "p_value", 0.05, (0.0, INF), TEST_BANDS),
    "reconstruction_error": MetricSpec(
        reconstruction_error,
        NUMERICAL,
        "distance",
        3.0,
        (0.0, INF),
        ((3.0, "stable"), (INF, "drifting")),
    ),
    "missing_rate": MetricSpec(
        missing_rate,
        BOTH,
        "distance",
        0.05,
        (0.0, 1.0),
        ((0.05, "stable"), (0.15, "moderate"), (INF, "significant")),
        sizes="rows",
    ),
}


def get_spec(metric: str) -> MetricSpec:
    """The spec of ``metric``; a ValueError lists the valid keys otherwise."""
    try:
        return METRICS[metric]
    except KeyError:
        raise ValueError(
            f"unknown drift metric {metric!r} (valid: {', '.join(sorted(METRICS))})"
        ) from None


def check_threshold(metric: str, value: float, statistic: str | None = None) -> float:
    """``value`` if it can work as a threshold of ``metric``; a ValueError says why otherwise.

    ``statistic`` is what the threshold is compared with: "p_value" (within (0, 1)) or
    "value" (within the metric's range, above its minimum); None means the metric's own
    decision statistic. A threshold no value can reach, or that every value reaches, can
    never alert usefully, so it is refused when the file is loaded.
    """
    spec = get_spec(metric)
    statistic = statistic or ("p_value" if spec.decision == "p_value" else "value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"threshold of {metric} must be a number, got {value!r}")
    if statistic == "p_value":
        works, interval = 0.0 < value < 1.0, "(0, 1)"
    else:
        low, high = spec.bounds
        works, interval = low < value <= high, f"({low:g}, {high:g}]"
    if not (math.isfinite(value) and works):
        raise ValueError(
            f"threshold {value:g} of {metric} ({statistic}) must be finite and within {interval}"
        )
    return float(value)
