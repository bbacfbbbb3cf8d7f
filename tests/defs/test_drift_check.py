"""The ``drift`` check's verdict from one hour's scores: ERROR for the population's drift,
WARN for drift in segments only, the drifted segment × column pairs listed and capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from monitoring_pipelines.defs.checks import SEGMENT_PAIRS_SHOWN, drift_check_outcome
from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.stats.drift import DriftResult

START = datetime(2026, 11, 2, 5, tzinfo=UTC)


def psi(value: float, threshold: float = 0.1) -> tuple[DriftResult, ...]:
    drifted = value >= threshold
    return (DriftResult("psi", value, None, threshold, "x", drifted, 4000, 500),)


def hour(population: float, segments: dict[str, dict[str, float]]) -> WindowScores:
    return WindowScores(
        "d",
        "hour",
        START,
        START + timedelta(hours=1),
        3000,
        {"income": psi(population), "age": psi(0.01)},
        segments={s: {c: psi(v) for c, v in cols.items()} for s, cols in segments.items()},
    )


def test_segments_only_warn_and_the_population_errors():
    regional = drift_check_outcome(
        hour(0.02, {"region=ne": {"income": 0.13, "age": 0.02}, "region=w": {"income": 0.03}})
    )
    assert (regional.passed, regional.severity) == (False, dg.AssetCheckSeverity.WARN)
    meta = {k: v.value for k, v in regional.metadata.items()}
    assert meta["drifted_columns"] == 0 and meta["drifted_column_names"] == []
    assert (meta["drifted_segments"], meta["drifted_segment_columns"]) == (1, 1)
    assert meta["segment_drift"] == "- region=ne: income"
    assert regional.description == "population stable; in segments: region=ne income"

    both = drift_check_outcome(hour(0.2, {"region=ne": {"income": 0.3}}))
    assert (both.passed, both.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert both.description == "drifted: income; in segments: region=ne income"

    clean = drift_check_outcome(hour(0.02, {"region=ne": {"income": 0.05}}))
    assert clean.passed and clean.description == "no column drifted"
    assert clean.metadata["drifted_segments"].value == 0

    unsegmented = drift_check_outcome(hour(0.2, {}))
    assert unsegmented.severity == dg.AssetCheckSeverity.ERROR
    assert "drifted_segments" not in unsegmented.metadata  # unchanged without segments


def test_the_pair_list_is_capped_and_counts_the_rest():
    many = {f"region={i:02d}": {"income": 0.2, "age": 0.15} for i in range(8)}  # 16 pairs
    outcome = drift_check_outcome(hour(0.02, many))
    meta = {k: v.value for k, v in outcome.metadata.items()}
    assert (meta["drifted_segments"], meta["drifted_segment_columns"]) == (8, 16)
    lines = meta["segment_drift"].splitlines()
    assert len(lines) == SEGMENT_PAIRS_SHOWN + 1
    assert (
        lines[0] == "- region=00: age" and lines[-1] == f"- … and {16 - SEGMENT_PAIRS_SHOWN} more"
    )
    assert outcome.description.endswith(f" and {16 - SEGMENT_PAIRS_SHOWN} more")
