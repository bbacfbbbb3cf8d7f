"""Each drift metric against an independent computation (scipy or a hand-worked example) and
against its properties: identical → 0 (or p = 1), symmetric, bounded, monotone in the shift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from monitoring_pipelines.stats.binning import quantile_edges
from monitoring_pipelines.stats.drift import score, score_column
from monitoring_pipelines.stats.metrics.registry import METRICS, get_spec
from monitoring_pipelines.stats.profile import (
    NumericalProfile,
    profile_categorical,
    profile_numerical,
)

RNG = np.random.default_rng(11)
EDGES = np.array([-np.inf, 0.0, 1.0, 2.0, 3.0, 4.0, np.inf])


def hist(counts, edges=EDGES, **moments) -> NumericalProfile:
    counts = np.asarray(counts, dtype=np.int64)
    return NumericalProfile(edges=edges, counts=counts, n_finite=int(counts.sum()), **moments)


P = [0, 40, 30, 20, 10, 0]
Q = [5, 20, 30, 30, 10, 5]
p, q = np.array(P) / 100, np.array(Q) / 100


def test_psi_hand_worked():
    # cells: (0 vs .05), (.4 vs .2), (.3 vs .3), (.2 vs .3), (.1 vs .1), (0 vs .05); eps 1e-4
    expected = (
        2 * (0.05 - 1e-4) * math.log(0.05 / 1e-4)
        + (0.2 - 0.4) * math.log(0.2 / 0.4)
        + (0.3 - 0.2) * math.log(0.3 / 0.2)
    )
    result = score_column("psi", hist(P), hist(Q), max_bins=None)
    assert result.value == pytest.approx(expected, rel=1e-12)
    assert result.status == "significant" and result.drifted
    larger_eps = score_column("psi", hist(P), hist(Q), max_bins=None, epsilon=1e-2)
    assert larger_eps.value < result.value


def test_psi_on_deciles_merges_stored_quantile_bins():
    reference = RNG.normal(0, 1, 20_000)
    current = RNG.normal(0.3, 1, 5_000)
    edges = quantile_edges(reference, 40)
    fine = quantile_edges(reference, 10)
    coarse = score_column(
        "psi", profile_numerical(reference, edges), profile_numerical(current, edges)
    )
    deciles = score_column(
        "psi", profile_numerical(reference, fine), profile_numerical(current, fine), max_bins=None
    )
    assert coarse.value == pytest.approx(deciles.value, rel=0.02)


def test_tvd_jensen_shannon_hellinger_hand_and_scipy():
    assert score_column("tvd", hist(P), hist(Q)).value == pytest.approx(0.5 * np.abs(p - q).sum())
    assert score_column("jensen_shannon", hist(P), hist(Q)).value == pytest.approx(
        jensenshannon(p, q, base=2), abs=1e-12
    )
    assert score_column("hellinger", hist(P), hist(Q)).value == pytest.approx(
        math.sqrt(1 - np.sum(np.sqrt(p * q))), abs=1e-12
    )


def test_hellinger_gaussian_closed_form_and_numeric_integral():
    ref = hist(P, mean=1.0, m2=4.0 * 100)  # std 2
    cur = hist(P, mean=2.0, m2=1.0 * 100)  # std 1
    x = np.linspace(-30, 30, 600_001)
    f, g = stats.norm.pdf(x, 1, 2), stats.norm.pdf(x, 2, 1)
    bc = np.sum(np.sqrt(f * g)) * (x[1] - x[0])
    result = score_column("hellinger_gaussian", ref, cur)
    assert result.value == pytest.approx(math.sqrt(1 - bc), abs=1e-9)


def test_ks_binned_equals_scipy_when_bins_separate_every_value():
    reference = RNG.integers(0, 8, 3000).astype(float)
    current = RNG.integers(1, 9, 2000).astype(float)
    edges = np.concatenate(([-np.inf], np.arange(0, 10) - 0.5, [np.inf]))
    result = score_column(
        "ks", profile_numerical(reference, edges), profile_numerical(current, edges)
    )
    expected = stats.ks_2samp(reference, current, method="asymp")
    assert result.value == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi_squared_equals_scipy_with_unseen_categories_on_both_sides():
    base = profile_categorical(["a"] * 50 + ["b"] * 30 + ["gone"] * 20)
    current = profile_categorical(["a"] * 40 + ["b"] * 35 + ["new"] * 25, ("a", "b", "gone"))
    table = np.array([[50, 30, 20, 0], [40, 35, 0, 25]])
    chi2, pvalue, dof, _ = stats.chi2_contingency(table, correction=False)
    result = score_column("chi_squared", base, current)
    assert result.value == pytest.approx(chi2, rel=1e-12)
    assert result.p_value == pytest.approx(pvalue, rel=1e-9)
    assert result.detail["dof"] == dof == 3


def test_raw_ks_and_wasserstein_are_exactly_scipy():
    reference = RNG.lognormal(0, 1, 3000)
    current = RNG.lognormal(0.2, 1, 700)
    ks = score("ks", reference, current)
    expected = stats.ks_2samp(reference, current)
    assert (ks.value, ks.p_value) == (expected.statistic, expected.pvalue)
    wasserstein = score("wasserstein", reference, current)
    expected_w = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert wasserstein.value == pytest.approx(expected_w, rel=1e-12)


@pytest.mark.parametrize(
    ("draw", "shift"),
    [
        (lambda n, s: RNG.normal(s, 1, n), 0.1),
        (lambda n, s: RNG.lognormal(0, 0.6, n) * (1 + s), 0.2),
        (
            lambda n, s: (
                np.where(RNG.random(n) < 0.3, RNG.normal(-2, 0.5, n), RNG.normal(1, 1, n)) + s
            ),
            0.3,
        ),
    ],
    ids=["normal", "lognormal", "mixture"],
)
@pytest.mark.parametrize("n", [1_000, 20_000])
def test_binned_ks_and_wasserstein_stay_close_to_raw_with_default_bins(draw, shift, n):
    reference, current = draw(100_000, 0.0), draw(n, shift)
    edges = quantile_edges(reference)
    base, window = profile_numerical(reference, edges), profile_numerical(current, edges)
    raw_ks = stats.ks_2samp(reference, current).statistic
    binned_ks = score_column("ks", base, window).value
    assert 0 <= raw_ks - binned_ks <= 0.01
    raw_w = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert score_column("wasserstein", base, window).value == pytest.approx(raw_w, abs=0.02)


def test_binned_metrics_of_score_use_the_pipeline_binning():
    reference = RNG.normal(0, 1, 5000)
    current = RNG.normal(0.5, 1, 1000)
    edges = quantile_edges(reference)
    expected = score_column(
        "psi", profile_numerical(reference, edges), profile_numerical(current, edges)
    )
    assert score("psi", reference, current).value == expected.value


NUMERICAL_KEYS = [k for k, s in METRICS.items() if "numerical" in {x.value for x in s.kinds}]
CATEGORICAL_KEYS = [k for k, s in METRICS.items() if "categorical" in {x.value for x in s.kinds}]
SYMMETRIC = [
    "psi",
    "tvd",
    "jensen_shannon",
    "hellinger",
    "hellinger_gaussian",
    "ks",
    "chi_squared",
    "missing_rate",
    "linf",
    "g_test",
]
BINARY = {"two_proportion_z"}  # defined on two-valued columns only


@pytest.mark.parametrize("metric", NUMERICAL_KEYS)
def test_identical_numerical_distributions_score_zero(metric):
    values = RNG.integers(0, 2, 2000).astype(float) if metric in BINARY else RNG.normal(3, 2, 2000)
    result = score(metric, values, values)
    if metric == "anderson_darling":  # its p-value is read off a table that stops at 0.25
        assert result.p_value == 0.25 and not result.drifted
    elif get_spec(metric).decision == "p_value":
        assert result.p_value == pytest.approx(1.0) and not result.drifted
    else:
        assert result.value == pytest.approx(0.0, abs=1e-7) and result.status == "stable"


@pytest.mark.parametrize("metric", CATEGORICAL_KEYS)
def test_identical_categorical_distributions_score_zero(metric):
    values = RNG.choice(list("ab" if metric in BINARY else "abcde"), 1000)
    result = score(metric, values, values)
    if get_spec(metric).decision == "p_value":
        assert result.p_value == pytest.approx(1.0)
    else:
        assert result.value == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("metric", ["tvd", "jensen_shannon", "hellinger"])
def test_disjoint_categories_score_the_maximum(metric):
    assert score(metric, list("aabb"), list("ccdd")).value == pytest.approx(1.0)


counts = st.lists(st.integers(0, 50), min_size=6, max_size=6).filter(lambda c: sum(c) > 0)


@settings(max_examples=150, deadline=None)
@given(counts, counts)
def test_symmetric_and_bounded_on_any_histograms(a, b):
    ref, cur = hist(a, mean=float(sum(a)), m2=1.0), hist(b, mean=1.0, m2=2.0)
    for metric in [
        "psi",
        "tvd",
        "jensen_shannon",
        "hellinger",
        "hellinger_gaussian",
        "ks",
        "wasserstein",
        "linf",
        "kl_divergence",
    ]:
        forward = score_column(metric, ref, cur)
        lower, upper = get_spec(metric).bounds
        assert lower <= forward.value <= upper, metric
        if metric in SYMMETRIC:
            backward = score_column(metric, cur, ref)
            assert forward.value == pytest.approx(backward.value, abs=1e-9), metric
            if forward.p_value is not None:
                assert 0 <= forward.p_value <= 1


REFERENCE = np.random.default_rng(0).normal(0, 1, 20_000)
SHIFTED = np.random.default_rng(1).normal(0, 1, 5_000)
SHIFT_EDGES = quantile_edges(REFERENCE)
SHIFT_BASE = profile_numerical(REFERENCE, SHIFT_EDGES)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 1.5), st.floats(0.1, 1.5))
def test_a_larger_shift_scores_higher(s1, s2):
    small, large = sorted((s1, s2))
    if large - small < 0.05:
        return
    near = profile_numerical(SHIFTED + small, SHIFT_EDGES)
    far = profile_numerical(SHIFTED + large, SHIFT_EDGES)
    for metric in [
        "psi",
        "tvd",
        "jensen_shannon",
        "hellinger",
        "hellinger_gaussian",
        "ks",
        "wasserstein",
        "z_score",
    ]:
        a = score_column(metric, SHIFT_BASE, near).value
        b = score_column(metric, SHIFT_BASE, far).value
        assert b > a, metric


def test_unknown_metric_kind_threshold_and_param_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"valid: .*jensen_shannon"):
        get_spec("JS")
    with pytest.raises(ValueError, match="ks does not apply to categorical"):
        score("ks", list("ab"), list("ab"))
    with pytest.raises(ValueError, match="significance level"):
        score("ks", [1.0, 2.0], [1.0, 2.0], threshold=5)
    with pytest.raises(ValueError, match=r"unknown parameter.*valid: epsilon, max_bins"):
        score("psi", [1.0, 2.0], [1.0, 2.0], eps=1)
    with pytest.raises(ValueError, match="unknown column kind"):
        score("psi", [1.0], [1.0], kind="text")
