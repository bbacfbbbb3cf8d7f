"""Vega-Lite specs of a report's charts, from stored bins and scores only.

Data values (column and category names) only ever travel as data, never inside a Vega
expression or a field name, so a hostile name is drawn as text and cannot run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from monitoring_pipelines.report.model import HourScores, shown_value
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.profile import CategoricalProfile, NumericalProfile

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
SERIES = {"domain": ["baseline", "production"], "range": ["#4c78a8", "#f58518"]}
MAX_CATEGORIES_SHOWN = 30
FOLDED = "(folded beyond the cap)"
WIDTH = 360


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def display_edges(baseline: NumericalProfile, current: NumericalProfile) -> np.ndarray:
    """Finite edges for drawing: the open-ended outer bins end at the values seen in either
    profile (or one neighbouring width past the last finite edge when none lie there)."""
    edges = np.array(baseline.edges, dtype=np.float64)
    if edges.size < 3:
        return np.nan_to_num(edges, neginf=-1.0, posinf=1.0)
    low = np.nanmin([baseline.min, current.min, np.inf])
    high = np.nanmax([baseline.max, current.max, -np.inf])
    if not math.isfinite(edges[0]):
        step = edges[2] - edges[1] if edges.size > 3 and math.isfinite(edges[2]) else 1.0
        edges[0] = low if math.isfinite(low) and low < edges[1] else edges[1] - (step or 1.0)
    if not math.isfinite(edges[-1]):
        step = edges[-2] - edges[-3] if edges.size > 3 and math.isfinite(edges[-3]) else 1.0
        edges[-1] = high if math.isfinite(high) and high > edges[-2] else edges[-2] + (step or 1.0)
    return edges


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(counts.size)


def numerical_distribution(column: str, baseline: NumericalProfile, current: NumericalProfile):
    """Overlaid density histograms of baseline and production on the baseline's bins."""
    edges = display_edges(baseline, current)
    widths = np.diff(edges)
    widths[widths <= 0] = 1.0
    values = []
    for series, profile in (("baseline", baseline), ("production", current)):
        shares = _shares(np.asarray(profile.counts, dtype=np.float64))
        for i, share in enumerate(shares):
            values.append(
                {
                    "series": series,
                    "lo": float(edges[i]),
                    "hi": float(edges[i + 1]),
                    "share": float(share),
                    "density": float(share / widths[i]),
                }
            )
    return {
        "$schema": SCHEMA,
        "title": {"text": column, "subtitle": "distribution on the baseline's bins"},
        "width": WIDTH,
        "height": 160,
        "data": {"values": values},
        "mark": {"type": "rect", "opacity": 0.55},
        "encoding": {
            "x": {"field": "lo", "type": "quantitative", "title": None},
            "x2": {"field": "hi"},
            "y": {"field": "density", "type": "quantitative", "title": "density", "stack": None},
            "color": {"field": "series", "type": "nominal", "scale": SERIES, "title": None},
            "tooltip": [
                {"field": "series"},
                {"field": "lo", "format": ".4g"},
                {"field": "hi", "format": ".4g"},
                {"field": "share", "format": ".2%"},
            ],
        },
    }


def categorical_distribution(
    column: str, baseline: CategoricalProfile, current: CategoricalProfile
):
    """Bars of each category's share in baseline and production; new categories marked."""
    known = set(baseline.counts)
    base_total = baseline.count or 1
    current_total = current.count or 1
    # (label, baseline count, production count, new); the folded cell is not a user value
    cells = [
        (name, baseline.counts.get(name, 0), current.counts.get(name, 0), name not in known)
        for name in sorted(set(baseline.counts) | set(current.counts))
    ]
    if baseline.other or current.other:
        cells.append((FOLDED, baseline.other, current.other, False))
    ranked = sorted(cells, key=lambda c: (-max(c[1] / base_total, c[2] / current_total), c[0]))
    shown = ranked[:MAX_CATEGORIES_SHOWN]
    values = []
    for name, base_count, current_count, new in shown:
        label = f"{name} (new)" if new else name
        for series, count, total in (
            ("baseline", base_count, base_total),
            ("production", current_count, current_total),
        ):
            values.append({"category": label, "series": series, "share": count / total, "new": new})
    hidden = len(ranked) - len(shown)
    subtitle = "share of values per category; (new) = not in the baseline"
    if hidden:
        subtitle += f"; {hidden} smaller categories not drawn"
    return {
        "$schema": SCHEMA,
        "title": {"text": column, "subtitle": subtitle},
        "width": WIDTH,
        "height": 160,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "category", "type": "nominal", "sort": None, "title": None},
            "xOffset": {"field": "series"},
            "y": {"field": "share", "type": "quantitative", "axis": {"format": "%"}},
            "color": {"field": "series", "type": "nominal", "scale": SERIES, "title": None},
            "stroke": {
                "field": "new",
                "type": "nominal",
                "scale": {"domain": [False, True], "range": ["transparent", "#d62728"]},
                "legend": {"title": "new category"},
            },
            "strokeWidth": {"value": 2},
            "tooltip": [
                {"field": "category"},
                {"field": "series"},
                {"field": "share", "format": ".2%"},
            ],
        },
    }


def score_history(column: str, history: Sequence[HourScores]):
    """Each metric of the column per hour, its threshold as a dashed rule, drifted hours red.

    Series travel as one record per metric with parallel arrays (hour offsets, values, drift
    flags) flattened in the browser, so a month of hours stays small in the file."""
    if not history:
        return None
    origin = history[0].start
    series: dict[str, dict] = {}
    for hour in history:
        offset = int((hour.start - origin).total_seconds() // 3600)
        for result in hour.scores.get(column, ()):
            value = _finite(shown_value(result)) if shown_value(result) is not None else None
            if value is None:
                continue
            spec = get_spec(result.metric)
            label = f"{result.metric} (p-value)" if spec.decision == "p_value" else result.metric
            entry = series.setdefault(
                result.metric,
                {"metric": label, "threshold": _finite(result.threshold), "h": [], "v": []}
                | {"d": []},
            )
            entry["h"].append(offset)
            entry["v"].append(value)
            entry["d"].append(bool(result.drifted))
    if not series:
        return None
    t0 = _epoch_ms(origin)
    x = {"field": "hour", "type": "temporal", "title": None}
    y = {"field": "v", "type": "quantitative", "title": None}
    line = {"mark": {"type": "line", "color": "#9e9e9e"}, "encoding": {"x": x, "y": y}}
    points = {
        "mark": {"type": "point", "filled": True, "size": 18},
        "encoding": {
            "x": x,
            "y": y,
            "color": {
                "field": "d",
                "type": "nominal",
                "scale": {"domain": [False, True], "range": ["#4c78a8", "#d62728"]},
                "legend": {"title": "drifted"},
            },
            "tooltip": [
                {"field": "hour", "type": "temporal", "format": "%Y-%m-%d %H:%M"},
                {"field": "v", "title": "value", "format": ".4g"},
                {"field": "threshold", "format": ".4g"},
            ],
        },
    }
    rule = {
        "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#d62728"},
        "encoding": {"y": {"field": "threshold", "type": "quantitative"}},
    }
    return {
        "$schema": SCHEMA,
        "title": {"text": column, "subtitle": "hourly score; dashed: threshold"},
        "data": {"values": list(series.values())},
        "transform": [
            {"flatten": ["h", "v", "d"]},
            {"calculate": f"{t0} + datum.h * 3600000", "as": "hour"},
        ],
        "facet": {"field": "metric", "type": "nominal", "title": None},
        "columns": 4,
        "spec": {"width": 200, "height": 90, "layer": [line, points, rule]},
        "resolve": {"scale": {"y": "independent"}},
    }


def distribution(column: str, baseline, current):
    """The distribution chart of one column, by its kind."""
    if isinstance(baseline, NumericalProfile):
        return numerical_distribution(column, baseline, current)
    return categorical_distribution(column, baseline, current)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
