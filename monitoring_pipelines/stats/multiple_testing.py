"""Multiple-testing correction over the p-value results of one window, so a 50-column model
does not raise a false alarm every few hours: Bonferroni (family-wise error) or
Benjamini–Hochberg (false discovery rate)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from monitoring_pipelines.stats.drift import DriftResult, decide
from monitoring_pipelines.stats.metrics.registry import get_spec

CORRECTIONS = ("none", "bonferroni", "benjamini_hochberg")


def adjust_p_values(p_values: Sequence[float], method: str) -> np.ndarray:
    """Adjusted p-values: Bonferroni min(1, m·p); Benjamini–Hochberg step-up q-values."""
    check_correction(method)
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def correct(results: Sequence[DriftResult], method: str) -> list[DriftResult]:
    """Replace the p-values of the test results by adjusted ones and judge them again.

    Distances and results without a p-value pass through unchanged; an adjusted
    result keeps its own p-value in ``detail["raw_p_value"]``.
    """
    check_correction(method)
    tested = [
        i
        for i, r in enumerate(results)
        if r.p_value is not None and get_spec(r.metric).decision == "p_value"
    ]
    if method == "none" or not tested:
        return list(results)
    adjusted = adjust_p_values([results[i].p_value for i in tested], method)
    out = list(results)
    for i, p in zip(tested, adjusted, strict=True):
        r = results[i]
        status, drifted = decide(get_spec(r.metric), r.value, float(p), r.threshold)
        detail = {**r.detail, "raw_p_value": r.p_value, "correction": method, "tests": len(tested)}
        out[i] = replace(r, p_value=float(p), status=status, drifted=drifted, detail=detail)
    return out


def check_correction(method: str) -> str:
    """``method`` if it is a known correction; a ValueError listing the valid ones otherwise."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r} (valid: {', '.join(CORRECTIONS)})")
    return method
