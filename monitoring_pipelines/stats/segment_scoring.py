"""Drift per segment: which baseline each segment is compared with, the multiple-testing
correction over every segment × column test of a window, and ``segment_share``.

A segment is compared with the reference rows of the same segment (``baseline: segment``),
or with the whole reference when its key says ``baseline: population`` or when the
reference holds fewer than ``min_rows`` of its rows; a segment the reference does not hold
at all is new since training, which its results say (``detail.new_segment``) and
``segment_share`` measures: the total variation distance between the shares of a key's
segment values in the reference and in the window (a new region taking 15 % of the traffic
moves it by 0.15).

The correction family of a window is every p-value test of the population and of all its
segments together (Bonferroni: family-wise error; Benjamini–Hochberg: false discovery rate),
so slicing the traffic into 20 segments does not multiply false alarms by 21.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from monitoring_pipelines.stats.dataset import MULTIVARIATE, DatasetProfile
from monitoring_pipelines.stats.drift import DriftResult, finish_column, plan_column
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.multiple_testing import correct
from monitoring_pipelines.stats.profile import CategoricalProfile
from monitoring_pipelines.stats.scoring import measure
from monitoring_pipelines.stats.segments import ALL, SegmentKey

SEGMENT_SHARE = "segment_share"
Scores = dict[str, tuple[DriftResult, ...]]


def key_of(segment: str, keys: Sequence[SegmentKey]) -> SegmentKey | None:
    """The key a segment's name belongs to (longest key first), or None."""
    for key in sorted(keys, key=lambda k: -len(k.columns)):
        pattern = ",".join(f"{re.escape(c)}=.*" for c in key.columns)
        if re.fullmatch(pattern, segment, flags=re.DOTALL):
            return key
    return None


def segment_baseline(
    segment: str,
    key: SegmentKey,
    population: DatasetProfile,
    references: Mapping[str, DatasetProfile],
    min_rows: int,
) -> tuple[DatasetProfile, dict[str, Any]]:
    """The baseline ``segment`` is scored against, and what its results should say about it
    (``baseline``: segment or population; ``new_segment`` when the reference lacks it)."""
    own = references.get(segment)
    if key.baseline == "segment" and own is not None and own.row_count >= min_rows:
        return own, {"baseline": "segment", "reference_rows": own.row_count}
    note: dict[str, Any] = {"baseline": "population"}
    if own is None:
        note["new_segment"] = True
    elif key.baseline == "segment":
        note["reference_rows"] = own.row_count  # too few of its own: the whole reference
    return population, note


def noted(scores: Scores, note: Mapping[str, Any]) -> Scores:
    """The results with the segment's baseline note in each result's detail."""
    return {
        column: tuple(replace(r, detail={**r.detail, **note}) for r in results)
        for column, results in scores.items()
    }


def correct_together(population: Scores, segments: Mapping[str, Scores], method: str):
    """Correct the p-values of the population's and every segment's tests as one family;
    returns (population, segments) with the adjusted results, in the same shapes."""
    flat = [
        (segment, column, r)
        for segment, scores in {ALL: population, **segments}.items()
        for column, results in scores.items()
        for r in results
    ]
    adjusted = correct([r for _, _, r in flat], method)
    grouped: dict[str, dict[str, list[DriftResult]]] = {}
    for (segment, column, _), result in zip(flat, adjusted, strict=True):
        grouped.setdefault(segment, {}).setdefault(column, []).append(result)
    out = {s: {c: tuple(rs) for c, rs in cols.items()} for s, cols in grouped.items()}
    return (
        {c: out.get(ALL, {}).get(c, ()) for c in population},
        {s: {c: out.get(s, {}).get(c, ()) for c in scores} for s, scores in segments.items()},
    )


def segment_shares(
    key: SegmentKey,
    reference: Mapping[str, int],
    window: Mapping[str, int],
    *,
    threshold: float | None = None,
    min_rows: int,
) -> DriftResult:
    """``segment_share`` of ``key``: how far the shares of its segment values in ``window``
    (segment → rows) moved from those in ``reference`` (a TVD, 0 to 1; new values count)."""
    labels = tuple(sorted(reference))
    before = CategoricalProfile(
        counts=dict(reference), max_categories=max(len(window), 1), reference_categories=labels
    )
    after = CategoricalProfile(
        counts=dict.fromkeys(labels, 0) | dict(window),
        max_categories=max(len(window), 1),
        reference_categories=labels,
    )
    task = plan_column(
        SEGMENT_SHARE,
        before,
        after,
        threshold=get_spec(SEGMENT_SHARE).threshold if threshold is None else threshold,
        min_rows=min_rows,
        noise=None,
        sigmas=0.0,
        calibrated_on=None,
        params={},
    )
    if isinstance(task, DriftResult):
        return task
    result = finish_column(task, measure(task))
    new = sorted(set(window) - set(reference))
    shares = {s: n / max(sum(window.values()), 1) for s, n in sorted(window.items())}
    return replace(result, detail={**result.detail, "new_segments": new, "shares": shares})


def rows_by_key(rows: Mapping[str, int], keys: Sequence[SegmentKey]) -> dict[str, dict[str, int]]:
    """Segment rows (segment → rows) grouped by the name of the key each belongs to."""
    grouped: dict[str, dict[str, int]] = {key.name: {} for key in keys}
    for segment, n in rows.items():
        key = key_of(segment, keys)
        if key is not None:
            grouped[key.name][segment] = n
    return grouped


def worst_segments(segments: Mapping[str, Scores], top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` segments of a window by their real columns' largest distance relative to
    its threshold (as ``WindowScores.max_drift`` ranks the population's), each with that result
    and the columns that drifted; segments without a scored distance are left out."""
    ranked = []
    for segment, scores in segments.items():
        best = max(
            (
                (r.value / r.threshold, column, r)
                for column, results in scores.items()
                if column != MULTIVARIATE
                for r in results
                if r.value is not None
                and r.threshold
                and r.value == r.value
                and get_spec(r.metric).decision == "distance"
            ),
            default=None,
            key=lambda item: item[0],
        )
        if best is not None:
            ratio, column, result = best
            drifted = [c for c, rs in scores.items() if any(r.drifted for r in rs)]
            ranked.append(
                {
                    "segment": segment,
                    "column": column,
                    "metric": result.metric,
                    "value": result.value,
                    "threshold": result.threshold,
                    "ratio": ratio,
                    "drifted_columns": drifted,
                }
            )
    ranked.sort(key=lambda item: (-item["ratio"], item["segment"]))
    return ranked[:top]
