"""Issue 15, item 5: scoring many windows at once (``score_windows_batch``, metrics over stacked
counts) gives today's ``score_window`` results, result for result, values to 1e-12, and the
stacked metrics agree with scipy where scipy computes the same number."""

from __future__ import annotations

import copy
import gc
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import spatial, stats

from monitoring_pipelines.stats.batch_scoring import deferred_gc, score_windows_batch
from monitoring_pipelines.stats.calibration import NoiseCurve
from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.metrics.registry import METRICS
from monitoring_pipelines.stats.metrics.stacked import STACKED
from monitoring_pipelines.stats.metrics.stacked_cells import Cells
from monitoring_pipelines.stats.profile import NumericalProfile, profile_numerical
from monitoring_pipelines.stats.scoring import ScoringSettings, score_window

KINDS = {
    "normal": "numerical",
    "heavy": "numerical",
    "counts": "numerical",
    "constant": "numerical",
    "sparse": "numerical",
    "colour": "categorical",
    "many": "categorical",
}


def _frame(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    heavy = rng.standard_t(2, n) + shift
    heavy[rng.random(n) < 0.01] = np.inf
    heavy[rng.random(n) < 0.01] = -np.inf
    sparse = np.where(rng.random(n) < 0.9, 0.0, rng.lognormal(shift, 2.0, n))
    sparse[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1.0, n),
            "heavy": heavy,
            "counts": rng.poisson(3.0 + 3 * shift, n).astype(float),  # discrete: exact counts
            "constant": np.ones(n),
            "sparse": sparse,
            "colour": rng.choice(["red", "green", "blue"] + (["new"] if shift else []), n),
            "many": [f"v{k}" for k in rng.zipf(1.3 + shift, n) % 400],
        }
    )


@pytest.fixture(scope="module")
def baseline():
    return fit_baseline(_frame(3000, np.random.default_rng(0)), KINDS, n_bins=20, max_categories=50)


@pytest.fixture(scope="module")
def windows(baseline):
    rng = np.random.default_rng(1)
    sizes_shifts = [(2000, 0.0), (800, 0.5), (3000, 1.5), (40, 0.0), (600, 0.2)]
    out = [profile_frame(_frame(n, rng, shift), baseline) for n, shift in sizes_shifts]
    empty = _frame(300, rng).assign(normal=np.nan, heavy=np.nan, colour=None)
    return [*out, profile_frame(empty, baseline), out[0].merge(out[1])]


def assert_same(expected: dict, got: dict) -> None:
    """Equal results: fields equal, numbers (and numbers in the detail) to 1e-12 relative."""
    assert list(expected) == list(got)
    for column in expected:
        assert len(expected[column]) == len(got[column]), column
        for a, b in zip(expected[column], got[column], strict=True):
            assert isinstance(b, DriftResult)
            where = f"{column}/{a.metric}"
            for name in ("metric", "status", "drifted", "reference_size", "current_size"):
                assert getattr(a, name) == getattr(b, name), (where, name)
            for name in ("value", "p_value", "threshold"):
                _close(getattr(a, name), getattr(b, name), f"{where}.{name}")
            _close_detail(a.detail, b.detail, where)


def _close(a, b, where: str) -> None:
    if a is None or b is None or isinstance(a, str | bool):
        assert a == b, where
    else:
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) or a == b, (where, a, b)


def _close_detail(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _close_detail(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for x, y in zip(a, b, strict=True):
            _close_detail(x, y, where)
    elif isinstance(a, float):
        _close(a, b, where)
    else:
        assert a == b, where


def test_default_metrics_equal_score_window(baseline, windows) -> None:
    expected = [score_window(baseline, w) for w in windows]
    got = score_windows_batch([(baseline, w, {}) for w in windows])
    for e, g in zip(expected, got, strict=True):
        assert_same(e, g)
    statuses = {r.status for scores in got for results in scores.values() for r in results}
    assert {"insufficient_data", "undefined", "stable"} <= statuses  # the cases are exercised
    assert any(r.drifted for scores in got for results in scores.values() for r in results)


def test_every_metric_and_setting_equals_score_window(baseline, windows) -> None:
    numerical = [k for k, s in METRICS.items() if "numerical" in {x.value for x in s.kinds}]
    categorical = [k for k, s in METRICS.items() if "categorical" in {x.value for x in s.kinds}]
    curve = NoiseCurve(sizes=(100.0, 1000.0), means=(0.05, 0.01), stds=(0.01, 0.003))
    variants = [
        {"metrics": {c: numerical if k == "numerical" else categorical for c, k in KINDS.items()}},
        {
            "thresholds": {"psi": 0.02, "tvd": 0.05},
            "column_thresholds": {"normal": {"wasserstein": 0.01}},
            "params": {
                "psi": {"epsilon": 1e-3, "max_bins": None},
                "wasserstein": {"std_floor": 2.0},
            },
            "min_rows": 50,
            "correction": "bonferroni",
            "calibration": {"normal": {"psi": curve, "wasserstein": curve}, "many": {"tvd": curve}},
        },
        {"prediction_columns": {"normal", "colour"}, "params": {"psi": {"max_bins": 3}}},
    ]
    items = [(baseline, w, v) for v in variants for w in windows]
    expected = [score_window(b, w, **v) for b, w, v in items]
    for e, g in zip(expected, score_windows_batch(items), strict=True):
        assert_same(e, g)


def test_errors_are_those_of_the_one_pair_functions(baseline, windows) -> None:
    with pytest.raises(ValueError, match="psi: epsilon must be positive"):
        score_windows_batch([(baseline, windows[0], {"params": {"psi": {"epsilon": 0.0}}})])
    moved = NumericalProfile(edges=np.array([-np.inf, 0.0, np.inf]), counts=np.array([1, 1]))
    other = NumericalProfile(edges=np.array([-np.inf, 1.0, np.inf]), counts=np.array([1, 1]))
    for metric in ("psi", "wasserstein", "tvd"):
        with pytest.raises(ValueError, match="share the baseline's bin edges"):
            STACKED[metric]([(moved, moved), (other, moved)], Cells())


@st.composite
def histogram_pairs(draw):
    """Pairs of profiles on random edges (3 to 30 bins), counts of any shape, moments kept."""
    n_edges = draw(st.integers(3, 30))
    inner = np.unique(draw(st.lists(st.floats(-1e3, 1e3), min_size=n_edges, max_size=n_edges)))
    edges = np.concatenate(([-np.inf], inner, [np.inf]))
    seeds = draw(st.lists(st.integers(0, 2**31), min_size=2, max_size=8))
    infinite = [np.inf, -np.inf] if draw(st.booleans()) else []
    profiles = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        x = rng.choice(np.concatenate((inner, rng.normal(0, 300, 5), infinite)), 200)
        x[rng.random(200) < 0.1] = np.nan
        profiles.append(profile_numerical(x, edges))
    return [(profiles[0], p) for p in profiles[1:]]


@settings(max_examples=60, deadline=None)
@given(histogram_pairs())
def test_stacked_histogram_metrics_equal_the_one_pair_functions(pairs) -> None:
    for metric, stacked in STACKED.items():
        got = stacked(pairs, Cells())
        for (r, c), g in zip(pairs, got, strict=True):
            if r.count == 0 or c.count == 0:
                continue  # never measured: the window is insufficient first
            e = METRICS[metric].function(r, c)
            _close(e.value, g.value, metric)
            _close_detail(e.detail, g.detail, metric)


def test_stacked_metrics_agree_with_scipy() -> None:
    rng = np.random.default_rng(5)
    reference = rng.poisson(4.0, 3000).astype(float)
    base = fit_baseline(
        pd.DataFrame({"x": reference, "c": reference.astype(int).astype(str)}),
        {"x": "numerical", "c": "categorical"},
    )
    samples = [rng.poisson(lam, n).astype(float) for lam, n in ((4.0, 500), (5.0, 900), (7.0, 60))]
    frames = [pd.DataFrame({"x": s, "c": s.astype(int).astype(str)}) for s in samples]
    pairs = {
        name: [(base.columns[name], profile_frame(f, base).columns[name]) for f in frames]
        for name in ("x", "c")
    }
    js = STACKED["jensen_shannon"](pairs["c"], Cells())
    wasserstein = STACKED["wasserstein"](pairs["x"], Cells())
    for sample, j, w in zip(samples, js, wasserstein, strict=True):
        cells = sorted(set(reference) | set(sample))
        p = [np.mean(reference == v) for v in cells]
        q = [np.mean(sample == v) for v in cells]
        assert math.isclose(j.value, spatial.distance.jensenshannon(p, q, base=2), rel_tol=1e-12)
        raw = stats.wasserstein_distance(reference, sample) / np.std(reference)
        assert math.isclose(w.value, raw, rel_tol=1e-12)


def test_deferred_gc_restores_the_collector() -> None:
    assert gc.isenabled()
    with deferred_gc():
        assert not gc.isenabled()
        with deferred_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with deferred_gc():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()


def _random_window(baseline, rng: np.random.Generator):
    """A window of random size (some below any min_rows), shift and missing share, with
    categories the baseline never saw in some."""
    n = int(rng.choice([5, 40, 120, 600, 2500]))
    frame = _frame(n, rng, float(rng.choice([0.0, 0.0, 0.3, 1.0])))
    if rng.random() < 0.4:
        frame["colour"] = rng.choice(["red", "purple", f"unseen{rng.integers(5)}"], n)
        frame["many"] = [f"w{k}" for k in rng.integers(0, 600, n)]
    if rng.random() < 0.2:
        frame["sparse"] = np.nan
    return profile_frame(frame, baseline)


def _random_settings(rng: np.random.Generator) -> ScoringSettings:
    tests = {"numerical": ["ks", "anderson_darling", "psi"], "categorical": ["chi_squared", "tvd"]}
    metrics = {c: tests[k] for c, k in KINDS.items() if rng.random() < 0.6}
    return ScoringSettings(
        metrics=metrics,
        thresholds={"ks": float(rng.choice([0.01, 0.05])), "psi": float(rng.uniform(0.05, 0.3))},
        min_rows=int(rng.choice([1, 50, 500])),
        correction=str(rng.choice(["none", "bonferroni", "benjamini_hochberg"])),
        params={"psi": {"max_bins": int(rng.choice([5, 10]))}} if rng.random() < 0.3 else {},
    )


def test_one_batch_of_many_random_windows_equals_score_window_window_by_window(baseline) -> None:
    """Many random windows and settings in one batch, result for result equal to scoring each
    window alone: small windows (insufficient_data), unseen categories, p-value tests under
    every correction, mixed thresholds and parameters."""
    rng = np.random.default_rng(2026)
    items = [(baseline, _random_window(baseline, rng), _random_settings(rng)) for _ in range(60)]
    got = score_windows_batch(items)
    for (b, w, s), g in zip(items, got, strict=True):
        assert_same(score_window(b, w, s), g)
    results = [r for scores in got for rs in scores.values() for r in rs]
    assert {"insufficient_data", "stable"} <= {r.status for r in results}
    corrected = {r.detail.get("correction") for r in results if "raw_p_value" in r.detail}
    assert corrected == {"bonferroni", "benjamini_hochberg"}  # both corrections adjusted tests
    assert any(s["new"] for r in results for s in r.detail.get("categories", ()))  # unseen
    assert any(r.drifted and r.p_value is not None for r in results)


def test_windows_sharing_a_profile_are_measured_once(baseline, windows, monkeypatch) -> None:
    """Windows holding the same merged profile (a day and its week) share each pair's
    measurement: every metric sees each distinct (baseline column, window column) pair once,
    and every window's results still equal ``score_window``'s, settings applied per window."""
    seen: dict[str, list[int]] = {}
    for metric, stacked in list(STACKED.items()):

        def counting(pairs, cells, _metric=metric, _stacked=stacked, **params):
            seen.setdefault(_metric, []).append(len(pairs))
            return _stacked(pairs, cells, **params)

        monkeypatch.setitem(STACKED, metric, counting)
    day, hour = windows[6], windows[0]
    items = [
        (baseline, day, {}),
        (baseline, hour, {}),
        (baseline, day, {"min_rows": 10, "correction": "bonferroni"}),
        (baseline, day, {}),
        (baseline, day, {"params": {"psi": {"max_bins": 3}}}),
    ]
    got = score_windows_batch(items)
    for (b, w, s), g in zip(items, got, strict=True):
        assert_same(score_window(b, w, **s), g)
    numerical = sum(kind == "numerical" for kind in KINDS.values())
    assert seen["psi"] == [2 * len(KINDS), len(KINDS)]  # default max_bins; max_bins=3 (day only)
    assert seen["tvd"] == [2 * (len(KINDS) - numerical)]
    assert seen["wasserstein"] == [2 * numerical]
    assert got[3] is got[0]  # scored exactly alike: one table
    assert len({id(g) for g in got}) == 4  # other min_rows, correction or params: their own


def test_equal_baselines_share_a_plan_only_with_the_same_settings(
    baseline, windows, monkeypatch
) -> None:
    """Deployments trained on the same data (equal baselines, distinct objects, as read from
    the store) are planned once per settings; different settings, or a baseline of other
    sizes, get a plan of their own, and every window's results equal ``score_window``'s."""
    from monitoring_pipelines.stats import batch_plan

    planned: list[int] = []

    def counting(b, kinds, settings):
        planned.append(id(b))
        return plan(b, kinds, settings)

    plan = batch_plan._plan
    monkeypatch.setattr(batch_plan, "_plan", counting)
    twin = copy.deepcopy(baseline)
    smaller = fit_baseline(
        _frame(2000, np.random.default_rng(0)), KINDS, n_bins=20, max_categories=50
    )
    strict = ScoringSettings(thresholds={"psi": 0.01, "wasserstein": 0.001})
    items = [
        (baseline, windows[0], {}),
        (twin, windows[1], {}),
        (twin, windows[2], strict),
        (baseline, windows[2], ScoringSettings(thresholds={"psi": 0.3})),
        (smaller, profile_frame(_frame(500, np.random.default_rng(3), 1.0), smaller), {}),
    ]
    got = score_windows_batch(items)
    for (b, w, s), g in zip(items, got, strict=True):
        assert_same(score_window(b, w, s), g)
    assert planned == [id(baseline), id(twin), id(baseline), id(smaller)]
    thresholds = {r.threshold for r in got[2]["normal"]} ^ {r.threshold for r in got[1]["normal"]}
    assert thresholds  # the twin's strict settings were applied, not the shared plan's
