"""Drift decisions and edge cases: empty and one-row windows, all-missing columns, constant
baselines, categories on one side only, NaN/inf inputs, window scoring and p-value corrections."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import decide, score, score_column
from monitoring_pipelines.stats.metrics.distributions import aligned_counts
from monitoring_pipelines.stats.metrics.registry import METRICS, get_spec
from monitoring_pipelines.stats.multiple_testing import adjust_p_values, correct
from monitoring_pipelines.stats.profile import CategoricalProfile, profile_categorical
from monitoring_pipelines.stats.scoring import DEFAULT_METRICS, drifted_columns, score_window

RNG = np.random.default_rng(5)


def test_distances_drift_at_the_threshold_and_tests_strictly_below_it():
    psi, ks = get_spec("psi"), get_spec("ks")
    assert decide(psi, 0.1, None, 0.1) == ("moderate", True)
    assert decide(psi, 0.0999, None, 0.1) == ("stable", False)
    assert decide(ks, 0.2, 0.05, 0.05) == ("stable", False)
    assert decide(ks, 0.2, 0.0499, 0.05) == ("drifting", True)
    assert decide(ks, 0.9, 1e-9, 0.05) == ("critical", True)
    assert decide(psi, None, None, 0.1) == ("undefined", False)


def test_bands_are_ordered_and_cover_the_range():
    for key, spec in METRICS.items():
        bounds = [b for b, _ in spec.bands]
        expected = sorted(bounds, reverse=spec.decision == "p_value")
        assert bounds == expected, key
        assert bounds[-1] == (0.0 if spec.decision == "p_value" else np.inf), key
        assert spec.bands[0][1] == "stable", key


def _kind(metric: str) -> str:
    """Numerical where the metric applies to numbers, else categorical (chi_squared, g_test,
    segment_share)."""
    return (
        "numerical"
        if any(k.value == "numerical" for k in METRICS[metric].kinds)
        else ("categorical")
    )


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_an_empty_production_window_is_insufficient_data(metric):
    kind = _kind(metric)
    reference = ["a", "b"] * 50 if kind == "categorical" else RNG.normal(size=100)
    result = score(
        metric, reference, np.array([], dtype=object if kind == "categorical" else float)
    )
    assert result.status == "insufficient_data" and result.value is None and not result.drifted
    assert result.current_size == 0


def test_all_missing_column_is_insufficient_for_distributions_but_drifts_missing_rate():
    reference = RNG.normal(size=500)
    current = np.full(200, np.nan)
    assert score("psi", reference, current).status == "insufficient_data"
    missing = score("missing_rate", reference, current)
    assert missing.value == 1.0 and missing.drifted and missing.current_size == 200


def test_min_rows_turns_small_windows_into_insufficient_data():
    reference, current = RNG.normal(size=1000), RNG.normal(size=99)
    assert score("psi", reference, current, min_rows=100).status == "insufficient_data"
    assert score("psi", reference, current, min_rows=99).status != "insufficient_data"


def test_constant_baseline_z_score_is_undefined_and_wasserstein_uses_the_floor():
    reference, current = np.full(100, 3.0), np.full(50, 3.5)
    z = score("z_score", reference, current)
    assert z.value is None and z.status == "undefined" and not z.drifted
    assert "constant" in z.detail["undefined"]
    w = score("wasserstein", reference, current)
    assert w.value == pytest.approx(0.5 / 1e-3) and w.detail["scale"] == 1e-3
    assert score("hellinger_gaussian", reference, current).value == 1.0
    assert score("hellinger_gaussian", reference, np.full(5, 3.0)).value == 0.0


def test_one_row_windows_score_without_errors():
    for metric in sorted(METRICS):
        kind = _kind(metric)
        reference = ["a"] if kind == "categorical" else [1.0]
        current = ["b"] if kind == "categorical" else [2.0]
        result = score(metric, reference, current)
        assert result.status != "insufficient_data", metric
        assert result.p_value is None or 0.0 <= result.p_value <= 1.0, metric


def test_nan_is_missing_and_inf_lands_in_the_outer_bins():
    reference = RNG.normal(size=1000)
    current = np.concatenate([RNG.normal(size=200), [np.nan] * 20, [np.inf] * 10, [-np.inf] * 5])
    psi = score("psi", reference, current)
    assert psi.current_size == 215 and np.isfinite(psi.value)
    ks = score("ks", reference, current)
    finite_and_inf = current[~np.isnan(current)]
    assert ks.value == stats.ks_2samp(reference, finite_and_inf).statistic
    w = score("wasserstein", reference, current)
    assert w.value == pytest.approx(
        stats.wasserstein_distance(reference, current[np.isfinite(current)]) / np.std(reference)
    )
    assert score("missing_rate", reference, current).value == pytest.approx(20 / 235)


def test_category_only_in_production_or_only_in_baseline_is_a_cell_not_dropped():
    base = profile_categorical(["a"] * 60 + ["b"] * 40)
    window = profile_categorical(["a"] * 60 + ["new"] * 40, ("a", "b"))
    ref_counts, cur_counts = aligned_counts(base, window)
    assert sorted(zip(ref_counts, cur_counts, strict=True)) == [(0, 40), (40, 0), (60, 60)]
    assert score_column("tvd", base, window).value == pytest.approx(0.4)
    psi = score_column("psi", base, window)
    assert psi.value == pytest.approx(2 * (0.4 - 1e-4) * np.log(0.4 / 1e-4))


def test_with_a_folded_baseline_unknown_production_categories_compare_with_other():
    base = CategoricalProfile(counts={"a": 50, "b": 30}, other=20, max_categories=2)
    window = CategoricalProfile(
        counts={"a": 50, "b": 30, "rare": 15}, other=5, reference_categories=("a", "b")
    )
    ref_counts, cur_counts = aligned_counts(base, window)
    assert sorted(zip(ref_counts, cur_counts, strict=True)) == [(20, 20), (30, 30), (50, 50)]
    assert score_column("chi_squared", base, window).p_value == pytest.approx(1.0)


def test_multiple_testing_matches_scipy_and_bonferroni():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    np.testing.assert_allclose(
        adjust_p_values(p, "benjamini_hochberg"), stats.false_discovery_control(p, method="bh")
    )
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), np.minimum(p * 10, 1))
    with pytest.raises(ValueError, match="valid: none, bonferroni, benjamini_hochberg"):
        adjust_p_values(p, "holm")


def test_correction_rejudges_tests_and_leaves_distances_alone():
    reference = RNG.normal(size=2000)
    results = [score("ks", reference, RNG.normal(0.1, 1, 500)) for _ in range(5)]
    results.append(score("psi", reference, RNG.normal(size=500)))
    corrected = correct(results, "bonferroni")
    for before, after in zip(results[:5], corrected[:5], strict=True):
        assert after.p_value == pytest.approx(min(before.p_value * 5, 1.0))
        assert after.detail["raw_p_value"] == before.p_value
        assert after.drifted == (after.p_value < 0.05)
    assert corrected[5] is results[5]


def _frames(n: int, shift: float = 0.0):
    frame = pd.DataFrame(
        {
            "x": RNG.normal(shift, 1, n),
            "y": RNG.lognormal(0, 0.5, n),
            "c": RNG.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "pred": RNG.choice(["yes", "no"], n),
        }
    )
    return frame


KINDS = {"x": "numerical", "y": "numerical", "c": "categorical", "pred": "categorical"}


def test_score_window_uses_defaults_overrides_and_flags_only_the_shifted_column():
    baseline = fit_baseline(_frames(20_000), KINDS)
    current = _frames(2_000)
    current["x"] += 1.0
    scores = score_window(
        baseline,
        profile_frame(current, baseline),
        prediction_columns=("pred",),
        metrics={"y": ("ks", "wasserstein")},
        thresholds={"psi": 0.2},
        column_thresholds={"c": {"psi": 0.3}},
    )
    assert [r.metric for r in scores["x"]] == list(DEFAULT_METRICS["numerical"])
    assert [r.metric for r in scores["pred"]] == list(DEFAULT_METRICS["prediction"])
    assert [r.metric for r in scores["y"]] == ["ks", "wasserstein"]
    assert scores["x"][0].threshold == 0.2 and scores["c"][0].threshold == 0.3
    assert scores["y"][0].detail["correction"] == "benjamini_hochberg"
    assert drifted_columns(scores) == ["x"]


def test_score_window_reports_small_windows_as_insufficient_data():
    baseline = fit_baseline(_frames(5_000), KINDS)
    scores = score_window(baseline, profile_frame(_frames(50), baseline), min_rows=100)
    statuses = {
        r.status for results in scores.values() for r in results if r.metric != "missing_rate"
    }
    assert statuses == {"insufficient_data"}


def test_score_window_rejects_unknown_columns_and_corrections():
    baseline = fit_baseline(_frames(1_000), KINDS)
    current = profile_frame(_frames(1_000), baseline)
    with pytest.raises(ValueError, match="unknown column"):
        score_window(baseline, current, metrics={"nope": ("psi",)})
    with pytest.raises(ValueError, match="unknown correction"):
        score_window(baseline, current, correction="fdr")


def test_score_is_importable_from_stats_without_dagster():
    code = (
        "import sys, monitoring_pipelines.stats as s; "
        "assert 'dagster' not in sys.modules; "
        "print(s.score('tvd', ['a', 'b'], ['a', 'a']).value)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.5"
