"""The metrics added from the field's toolbox (L∞, KL, G-test, two-proportion z) against scipy
or a hand-worked table, and their edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import chebyshev

from monitoring_pipelines.stats.drift import score, score_column
from monitoring_pipelines.stats.profile import fit_categorical, fit_numerical, profile_categorical

RNG = np.random.default_rng(5)
REF = {"a": 50, "b": 30, "c": 20}
CUR = {"a": 20, "b": 30, "c": 40, "d": 10}  # d is new


def _profiles(ref: dict, cur: dict):
    reference = fit_categorical(pd.Series([k for k, n in ref.items() for _ in range(n)]))
    current = profile_categorical(
        pd.Series([k for k, n in cur.items() for _ in range(n)]), tuple(reference.counts)
    )
    return reference, current


def _shares(counts: dict, cells: list[str]) -> np.ndarray:
    v = np.array([counts.get(c, 0) for c in cells], dtype=float)
    return v / v.sum()


CELLS = ["a", "b", "c", "d"]
P, Q = _shares(REF, CELLS), _shares(CUR, CELLS)


def test_linf_is_the_largest_share_change():
    reference, current = _profiles(REF, CUR)
    result = score_column("linf", reference, current)
    assert result.value == pytest.approx(chebyshev(P, Q)) == pytest.approx(0.5 - 0.2)
    assert result.drifted and result.status == "significant"
    assert score("linf", list("aaaa"), list("bbbb")).value == 1.0  # disjoint single cells


def test_kl_divergence_equals_scipy_entropy_on_the_smoothed_shares():
    reference, current = _profiles(REF, CUR)
    eps = 1e-4
    p = np.where(P == 0, eps, P)
    q = np.where(Q == 0, eps, Q)
    expected = stats.entropy(p, q)  # scipy renormalises both
    assert score_column("kl_divergence", reference, current).value == pytest.approx(expected)
    assert score_column("kl_divergence", current, reference).value != pytest.approx(expected)
    with pytest.raises(ValueError, match="epsilon must be positive"):
        score_column("kl_divergence", reference, current, epsilon=0)


def test_g_test_equals_scipy_log_likelihood_contingency():
    reference, current = _profiles(REF, CUR)
    table = np.array([[REF.get(c, 0) for c in CELLS], [CUR.get(c, 0) for c in CELLS]])
    g, p, dof, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    result = score_column("g_test", reference, current)
    assert result.value == pytest.approx(g, rel=1e-12) and result.p_value == pytest.approx(p)
    assert result.detail["dof"] == dof == 3
    single = score("g_test", ["a"] * 5, ["a"] * 3)
    assert single.value == 0.0 and single.p_value == 1.0


def test_two_proportion_z_hand_worked_and_equal_to_the_2x2_chi_squared():
    # 60 of 200 vs 90 of 200: p̂ = 0.375, se = √(0.375·0.625·(2/200)) = 0.048412, z = 3.0984
    reference = ["yes"] * 60 + ["no"] * 140
    current = ["yes"] * 90 + ["no"] * 110
    result = score("two_proportion_z", reference, current)
    assert result.value == pytest.approx(0.15 / math.sqrt(0.375 * 0.625 * 0.01), rel=1e-12)
    assert result.value == pytest.approx(3.0984, abs=1e-4)
    chi2, p, _, _ = stats.chi2_contingency([[60, 140], [90, 110]], correction=False)
    assert result.value**2 == pytest.approx(chi2) and result.p_value == pytest.approx(p)


def test_two_proportion_z_on_a_numerical_zero_one_column_and_its_limits():
    reference = (RNG.random(5_000) < 0.3).astype(float)
    current = (RNG.random(2_000) < 0.33).astype(float)
    result = score("two_proportion_z", reference, current)
    table = [
        [np.sum(reference == 0), np.sum(reference == 1)],
        [np.sum(current == 0), np.sum(current == 1)],
    ]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.value**2 == pytest.approx(chi2) and result.p_value == pytest.approx(p)
    assert score("two_proportion_z", list("abc"), list("abc")).status == "undefined"
    smooth = fit_numerical(RNG.normal(0, 1, 1_000), 40)
    assert score_column("two_proportion_z", smooth, smooth).status == "undefined"


@pytest.mark.parametrize("metric", ["linf", "kl_divergence"])
def test_distances_on_raw_numerical_samples_use_the_pipeline_binning(metric):
    reference, current = RNG.normal(0, 1, 5_000), RNG.normal(0.5, 1, 1_000)
    baseline = fit_numerical(reference, 40)
    expected = score_column(metric, baseline, baseline.like(current))
    assert score(metric, reference, current).value == expected.value > 0


def _cvm(reference: np.ndarray, current: np.ndarray):
    baseline = fit_numerical(reference, 40)
    return score_column("cramer_von_mises", baseline, baseline.like(current))


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (RNG.normal(0, 1, 20_000), RNG.normal(0.05, 1, 2_000)),
        (RNG.normal(0, 1, 20_000), RNG.normal(0, 2, 1_000)),
        (RNG.lognormal(0, 1, 20_000), RNG.lognormal(0.1, 1, 3_000)),
        (RNG.standard_t(2, 20_000), 1.3 * RNG.standard_t(2, 2_000)),
    ],
    ids=["shift", "scale", "lognormal", "t2"],
)
def test_binned_cramer_von_mises_lies_within_its_bound_of_scipy(reference, current):
    raw = stats.cramervonmises_2samp(reference, current, method="asymptotic")
    binned = _cvm(reference, current)
    assert abs(binned.value - raw.statistic) <= binned.detail["error_bound"] + 1e-12
    assert 0.0 <= binned.p_value <= 1.0


def test_cramer_von_mises_is_exact_on_discrete_columns_with_ties():
    reference = RNG.choice([12.0, 24.0, 36.0, 60.0], 5_000, p=[0.1, 0.2, 0.45, 0.25])
    current = RNG.choice([12.0, 24.0, 36.0, 48.0, 60.0], 800, p=[0.1, 0.2, 0.25, 0.2, 0.25])
    raw = stats.cramervonmises_2samp(reference, current, method="asymptotic")
    binned = _cvm(reference, current)
    assert binned.value == pytest.approx(raw.statistic, rel=1e-12)
    assert binned.p_value == pytest.approx(raw.pvalue, rel=1e-9)
    assert binned.detail["error_bound"] == 0.0
    same = _cvm(reference, reference)
    assert same.value == pytest.approx(stats.cramervonmises_2samp(reference, reference).statistic)
    assert same.p_value == pytest.approx(1.0) and not same.drifted


def test_cramer_von_mises_on_raw_samples_is_scipy():
    reference, current = RNG.normal(0, 1, 3_000), RNG.normal(0.2, 1, 400)
    raw = stats.cramervonmises_2samp(reference, current)
    result = score("cramer_von_mises", reference, current)
    assert result.value == raw.statistic and result.p_value == raw.pvalue and result.drifted


def _ad(reference: np.ndarray, current: np.ndarray):
    baseline = fit_numerical(reference, 40)
    return score_column("anderson_darling", baseline, baseline.like(current))


def _scipy_ad(reference: np.ndarray, current: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # p-value clipped to the table
        return stats.anderson_ksamp([reference, current], variant="right")


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (RNG.normal(0, 1, 20_000), RNG.normal(0.05, 1, 2_000)),
        (RNG.normal(0, 1, 20_000), RNG.normal(0, 2, 1_000)),
        (RNG.standard_t(2, 20_000), 1.3 * RNG.standard_t(2, 2_000)),
    ],
    ids=["shift", "scale", "t2"],
)
def test_binned_anderson_darling_lies_within_its_bound_of_scipy(reference, current):
    raw = _scipy_ad(reference, current)
    binned = _ad(reference, current)
    assert abs(binned.value - raw.statistic) <= binned.detail["error_bound"] + 1e-9
    assert 0.001 <= binned.p_value <= 0.25


def test_anderson_darling_is_exact_on_discrete_columns_and_on_raw_samples():
    reference = RNG.choice([1.0, 2.0, 3.0], 600, p=[0.2, 0.5, 0.3])
    current = RNG.choice([1.0, 2.0, 3.0], 300, p=[0.25, 0.45, 0.3])
    raw = _scipy_ad(reference, current)
    binned = _ad(reference, current)
    assert binned.value == pytest.approx(raw.statistic, rel=1e-12, abs=1e-12)
    assert binned.p_value == pytest.approx(raw.pvalue, rel=1e-9)
    assert binned.detail["error_bound"] == 0.0
    normal, shifted = RNG.normal(0, 1, 2_000), RNG.normal(0.3, 1, 300)
    result = score("anderson_darling", normal, shifted)
    expected = _scipy_ad(normal, shifted)
    assert result.value == expected.statistic and result.p_value == expected.pvalue
    assert result.drifted
