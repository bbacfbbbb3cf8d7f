"""Drift per segment: the correction family of a window is every segment × column test, so
identical data over 20 segments × 25 columns keeps the windows' false-alarm rate at the
test level (a family per segment would raise it ~20-fold); which baseline a segment gets;
segment_share against a hand-computed total variation distance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.stats.scoring import score_window
from monitoring_pipelines.stats.segment_scoring import (
    correct_together,
    key_of,
    segment_baseline,
    segment_shares,
)
from monitoring_pipelines.stats.segmented import profile_segmented_chunks
from monitoring_pipelines.stats.segments import SegmentKey

SEGMENTS = 20
NUMERICAL = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
KINDS = {n: "numerical" for n in NUMERICAL} | {c: "categorical" for c in CATEGORICAL}
METRICS = {n: ["ks"] for n in NUMERICAL} | {c: ["chi_squared"] for c in CATEGORICAL}
REGION = SegmentKey(("region",))
ALPHA = 0.05  # the tests' p-value threshold (their default)


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = {name: rng.normal(0, 1, n) for name in NUMERICAL}
    frame |= {
        name: rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]) for name in CATEGORICAL
    }
    frame["region"] = np.array([f"r{i:02d}" for i in range(SEGMENTS)])[np.arange(n) % SEGMENTS]
    return pd.DataFrame(frame)


def _windows(n_windows: int, rows: int, seed: int):
    """(population scores, segment scores) of windows drawn like the reference, uncorrected."""
    rng = np.random.default_rng(seed)
    reference = _rows(rng, SEGMENTS * 1_500)
    baseline = fit_baseline(reference, KINDS)
    references = profile_segmented_chunks([reference], baseline, [REGION]).segments
    settings = {"metrics": METRICS, "min_rows": 100, "correction": "none"}
    out = []
    for _ in range(n_windows):
        window = profile_segmented_chunks([_rows(rng, rows)], baseline, [REGION])
        population = score_window(baseline, window.population, **settings)
        segments = {}
        for name, profile in window.segments.items():
            against, _ = segment_baseline(name, REGION, baseline, references, 100)
            segments[name] = score_window(against, profile, **settings)
        out.append((population, segments))
    return out


def _alarmed(population, segments) -> bool:
    return any(r.drifted for s in (population, *segments.values()) for rs in s.values() for r in rs)


@pytest.fixture(scope="module")
def null_windows():
    return _windows(n_windows=60, rows=SEGMENTS * 300, seed=17)


@pytest.mark.parametrize("method", ["bonferroni", "benjamini_hochberg"])
def test_identical_segments_keep_the_false_alarm_rate_at_the_level(null_windows, method):
    [(population, segments)] = null_windows[:1]
    assert len(segments) == SEGMENTS and len(population) == 25
    tests = sum(len(rs) for s in (population, *segments.values()) for rs in s.values())
    assert tests == (SEGMENTS + 1) * 25  # the family: every segment × column test
    together = [_alarmed(*correct_together(p, s, method)) for p, s in null_windows]
    # the window's family corrected alone per segment (what counting segments apart does)
    apart = [
        _alarmed(*correct_together(p, {}, method))
        or any(_alarmed(*correct_together(seg, {}, method)) for seg in s.values())
        for p, s in null_windows
    ]
    n = len(null_windows)
    # at most ALPHA of the windows alarm (binomial tail: P(X > 8 | 60, 0.05) < 0.01)
    assert sum(together) <= 8, sum(together)
    assert scipy_stats.binomtest(sum(together), n, ALPHA, alternative="greater").pvalue > 0.01
    assert sum(apart) >= 3 * max(sum(together), 4), (sum(apart), sum(together))


def test_the_family_correction_keeps_a_real_shift_visible():
    rng = np.random.default_rng(3)
    reference = _rows(rng, SEGMENTS * 1_500)
    baseline = fit_baseline(reference, KINDS)
    references = profile_segmented_chunks([reference], baseline, [REGION]).segments
    current = _rows(rng, SEGMENTS * 300)
    current.loc[current.region == "r07", "x03"] += 1.0  # one segment, one column
    window = profile_segmented_chunks([current], baseline, [REGION])
    settings = {"metrics": METRICS, "min_rows": 100, "correction": "none"}
    population = score_window(baseline, window.population, **settings)
    segments = {
        name: score_window(
            segment_baseline(name, REGION, baseline, references, 100)[0], p, **settings
        )
        for name, p in window.segments.items()
    }
    population, segments = correct_together(population, segments, "bonferroni")
    flagged = {
        (s, c)
        for s, scores in segments.items()
        for c, rs in scores.items()
        if any(r.drifted for r in rs)
    }
    assert flagged == {("region=r07", "x03")}
    [result] = segments["region=r07"]["x03"]
    assert (
        result.detail["tests"] == (SEGMENTS + 1) * 25
        and result.detail["correction"] == "bonferroni"
    )
    assert result.p_value == pytest.approx(min(1.0, result.detail["raw_p_value"] * 525))


def test_which_baseline_a_segment_is_scored_against():
    rng = np.random.default_rng(5)
    reference = _rows(rng, 4_000)
    baseline = fit_baseline(reference, KINDS)
    references = profile_segmented_chunks([reference], baseline, [REGION]).segments
    own, note = segment_baseline("region=r01", REGION, baseline, references, 100)
    assert own is references["region=r01"] and note == {
        "baseline": "segment",
        "reference_rows": 200,
    }
    small, note = segment_baseline("region=r01", REGION, baseline, references, 500)
    assert small is baseline and note == {"baseline": "population", "reference_rows": 200}
    new, note = segment_baseline("region=zz", REGION, baseline, references, 100)
    assert new is baseline and note == {"baseline": "population", "new_segment": True}
    whole = SegmentKey(("region",), baseline="population")
    assert segment_baseline("region=r01", whole, baseline, references, 100)[0] is baseline
    pair = SegmentKey(("region", "channel"))
    assert key_of("region=eu,channel=web", [REGION, pair]) is pair
    assert key_of("region=eu", [REGION, pair]) is REGION
    assert key_of("channel=web", [REGION, pair]) is None


def test_segment_share_is_the_total_variation_of_the_shares():
    before = {"region=eu": 600, "region=us": 400}
    after = {"region=eu": 300, "region=us": 500, "region=apac": 200}
    result = segment_shares(REGION, before, after, min_rows=100)
    expected = 0.5 * (abs(0.6 - 0.3) + abs(0.4 - 0.5) + abs(0.0 - 0.2))
    assert result.metric == "segment_share" and result.value == pytest.approx(expected)
    assert result.drifted and result.detail["new_segments"] == ["region=apac"]
    steady = segment_shares(REGION, before, {"region=eu": 61, "region=us": 39}, min_rows=10)
    assert steady.value == pytest.approx(0.01) and not steady.drifted
    few = segment_shares(REGION, before, {"region=eu": 5}, min_rows=100)
    assert few.status == "insufficient_data"


def test_worst_segments_rank_by_distance_over_threshold():
    from monitoring_pipelines.stats.drift import DriftResult
    from monitoring_pipelines.stats.segment_scoring import worst_segments

    def psi(value, threshold=0.1):
        return DriftResult("psi", value, None, threshold, "x", value >= threshold, 1, 1)

    def ks(p_value):
        return DriftResult("ks", 0.9, p_value, 0.05, "x", p_value < 0.05, 1, 1)

    segments = {
        "region=eu": {"income": (psi(0.3),), "age": (psi(0.05),)},
        "region=us": {"income": (psi(0.02),), "age": (ks(1e-9),)},  # a test is not ranked
        "region=apac": {"income": (psi(0.5, threshold=0.4),)},
    }
    worst = worst_segments(segments, top=2)
    assert [(w["segment"], w["column"], w["ratio"]) for w in worst] == [
        ("region=eu", "income", pytest.approx(3.0)),
        ("region=apac", "income", pytest.approx(1.25)),
    ]
    assert worst[0]["drifted_columns"] == ["income"]
