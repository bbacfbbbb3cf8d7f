"""Multivariate drift by data reconstruction: the errors against scikit-learn's PCA, exact
merges of hourly error profiles, no alarm on identical distributions, the correlation-only
change caught while every column stays quiet, and bad input giving a clear answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from monitoring_pipelines.stats import multivariate
from monitoring_pipelines.stats.dataset import (
    MULTIVARIATE,
    Columns,
    fit_baseline,
    profile_chunks,
    profile_frame,
)
from monitoring_pipelines.stats.drift import score_column
from monitoring_pipelines.stats.multivariate import (
    MIN_REFERENCE_ROWS,
    MultivariateUnavailable,
    ReconstructionModel,
    fit_reconstruction,
    score_multivariate,
    with_multivariate,
)
from monitoring_pipelines.stats.profile import fit_numerical
from monitoring_pipelines.stats.scoring import drifted_columns, score_window

KINDS = {"a": "numerical", "b": "numerical", "c": "categorical", "d": "numerical"}


def draw(rng: np.random.Generator, n: int, rho: float = 0.8) -> pd.DataFrame:
    """a and b correlated (rho), d depends on the category c."""
    a = rng.normal(size=n)
    b = rho * a + math.sqrt(1 - rho**2) * rng.normal(size=n)
    c = rng.choice(["x", "y", "z"], size=n, p=[0.5, 0.3, 0.2])
    d = rng.exponential(size=n) + (c == "x")
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d})


def decorrelated(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """b shuffled within the window: every column's values are the same, a–b's link is gone."""
    return frame.assign(b=rng.permutation(frame["b"].to_numpy()))


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    reference = draw(rng, 20_000)
    baseline = fit_baseline(reference, KINDS)
    model, errors = fit_reconstruction(reference, KINDS)
    return reference, baseline, model, errors


def test_reconstruction_errors_equal_scikit_learns_pca():
    rng = np.random.default_rng(7)
    reference = draw(rng, 4_000)
    reference.loc[rng.choice(4_000, 300, replace=False), "a"] = np.nan
    reference.loc[rng.choice(4_000, 200, replace=False), "c"] = None
    model, _ = fit_reconstruction(reference, KINDS, variance=0.65, rng=np.random.default_rng(5))
    fit_rows = np.sort(np.random.default_rng(5).permutation(4_000)[:2_000])
    fit = reference.iloc[fit_rows]
    # the independent computation: frequency encoding by hand, sklearn imputer, scaler, PCA
    shares = fit["c"].value_counts(normalize=True)
    numerical = ["a", "b", "d"]

    def encode(frame: pd.DataFrame) -> np.ndarray:
        c = frame["c"].map(shares).where(frame["c"].notna(), shares.max())
        return np.column_stack([imputer.transform(frame[numerical]), c.fillna(0.0)])

    imputer = SimpleImputer(strategy="mean").fit(fit[numerical])
    scaler = StandardScaler().fit(encode(fit))
    pca = PCA(n_components=0.65, svd_solver="full").fit(scaler.transform(encode(fit)))
    current = draw(rng, 1_000, rho=0.3)
    current.loc[:9, "a"] = np.nan
    current.loc[10:19, "c"] = "never seen"
    z = scaler.transform(encode(current))
    expected = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
    assert model.components.shape[0] == pca.n_components_
    assert model.explained == pytest.approx(pca.explained_variance_ratio_.sum(), abs=1e-12)
    np.testing.assert_allclose(model.errors(current), expected, rtol=1e-9, atol=1e-12)


def test_the_stored_model_gives_the_same_errors(fitted):
    reference, _, model, _ = fitted
    again = ReconstructionModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(again.errors(reference[:500]), model.errors(reference[:500]))
    assert again.between == model.between and again.chunk_means == model.chunk_means


def test_merged_hours_equal_the_profile_of_their_union(fitted):
    _, baseline, model, errors = fitted
    rng = np.random.default_rng(4)
    hours = [draw(rng, n) for n in (700, 1_300, 1)]
    baseline = type(baseline)(baseline.row_count, baseline.columns, multivariate=errors)
    per_hour = [profile_chunks([h], baseline, errors=model.errors) for h in hours]
    merged = per_hour[2].merge(per_hour[0]).merge(per_hour[1]).multivariate
    union = profile_chunks(
        [pd.concat(hours[:2]), hours[2]], baseline, errors=model.errors
    ).multivariate
    raw = model.errors(pd.concat(hours))
    assert merged.n_finite == union.n_finite == raw.size == 2_001
    np.testing.assert_array_equal(merged.counts, union.counts)
    np.testing.assert_array_equal(merged.counts, errors.like(raw).counts)
    assert merged.mean == pytest.approx(raw.mean(), rel=1e-12)
    assert merged.m2 == pytest.approx(((raw - raw.mean()) ** 2).sum(), rel=1e-10)
    assert merged.min == raw.min() and merged.max == raw.max()


def test_the_band_is_the_reference_chunks_mean_plus_minus_three_sigma(fitted):
    _, _, model, errors = fitted
    window = errors.like(np.full(model.chunk_rows, errors.mean + 0.01))
    result = score_multivariate(model, errors, window)
    sigma = math.sqrt(model.between + errors.std**2 / errors.n_finite + errors.std**2 / 1_000)
    assert result.detail["sigma"] == pytest.approx(sigma, rel=1e-12)
    assert result.value == pytest.approx(0.01 / sigma, rel=1e-9)
    assert result.detail["upper"] == pytest.approx(errors.mean + 3 * sigma, rel=1e-12)
    assert result.detail["lower"] == pytest.approx(errors.mean - 3 * sigma, rel=1e-12)
    # at a reference chunk's size, σ is at least the spread of the chunk means
    assert sigma >= np.std(model.chunk_means, ddof=1) * 0.999


def test_identical_distributions_are_not_flagged(fitted):
    _, _, model, errors = fitted
    rng = np.random.default_rng(8)
    flagged = 0
    for n in [500] * 100 + [5_000] * 60 + [50_000] * 10:
        window = errors.like(model.errors(draw(rng, n)))
        flagged += score_multivariate(model, errors, window, min_rows=500).drifted
    assert flagged <= 2  # 3 σ: about 0.3 % expected of 170 windows


def test_a_correlation_change_alerts_on_multivariate_only(fitted):
    _, baseline, model, errors = fitted
    rng = np.random.default_rng(9)
    for _ in range(5):
        clean = draw(rng, 2_000)
        changed = decorrelated(rng, clean)
        window = profile_frame(changed, baseline)
        # every column profile is that of the clean rows: no per-column metric can see it
        same = profile_frame(clean, baseline)
        for name in ("a", "b", "d"):
            assert window.columns[name].mean == pytest.approx(same.columns[name].mean)
            np.testing.assert_array_equal(window.columns[name].counts, same.columns[name].counts)
        assert window.columns["c"].counts == same.columns["c"].counts
        scores = with_multivariate(
            score_window(baseline, window),
            model,
            errors,
            errors.like(model.errors(changed)),
            min_rows=500,
        )
        assert drifted_columns(scores) == [MULTIVARIATE]
        result = scores[MULTIVARIATE][0]
        assert result.metric == "reconstruction_error" and result.detail["shift"] > 3
        assert result.detail["mean_error"] > result.detail["upper"]
        clean_scores = with_multivariate(
            score_window(baseline, same), model, errors, errors.like(model.errors(clean))
        )
        assert drifted_columns(clean_scores) == []


def test_no_model_leaves_the_scores_as_they_were(fitted):
    _, baseline, _, errors = fitted
    scores = score_window(baseline, baseline)
    assert with_multivariate(scores, None, errors, errors) is scores


def test_an_hour_of_zero_rows_is_insufficient_data(fitted):
    _, baseline, model, errors = fitted
    baseline = type(baseline)(baseline.row_count, baseline.columns, multivariate=errors)
    empty = profile_chunks([], baseline, errors=model.errors)
    assert empty.multivariate is not None and empty.multivariate.count == 0
    for current in (empty.multivariate, None):
        result = score_multivariate(model, errors, current, min_rows=500)
        assert result.status == "insufficient_data" and result.value is None
        assert not result.drifted and result.current_size == 0


def test_missing_rows_constant_and_empty_columns_are_handled():
    rng = np.random.default_rng(10)
    reference = draw(rng, 3_000).assign(k=7.0, gone=np.nan, tag="same")
    reference.iloc[:100] = np.nan  # rows with every value missing
    kinds = KINDS | {"k": "numerical", "gone": "numerical", "tag": "categorical"}
    model, errors = fit_reconstruction(reference, kinds)
    assert model.dropped == {"k": "constant", "gone": "all values missing", "tag": "constant"}
    assert model.names == ["a", "b", "c", "d"]
    current = draw(rng, 600).assign(k=8.0, tag="other")
    current.iloc[:50] = np.nan
    current["a"] = current["a"].astype(object)
    current.loc[60:70, "a"] = "not a number"
    current.loc[80:90, "d"] = np.inf
    found = model.errors(current.drop(columns=["b"]))  # an absent column counts as missing
    assert found.shape == (600,) and np.isfinite(found).all()
    # a row with every value missing is imputed: the means, and the most frequent category
    mode = pd.DataFrame({"a": [np.nan], "b": [np.nan], "c": ["x"], "d": [np.nan]})
    np.testing.assert_allclose(found[:50], model.errors(mode)[0], rtol=1e-12)
    result = score_multivariate(model, errors, errors.like(found), min_rows=500)
    assert result.value is not None and math.isfinite(result.value)


def test_fewer_rows_than_columns_still_fit():
    rng = np.random.default_rng(11)
    reference = pd.DataFrame(rng.normal(size=(12, 25)), columns=[f"x{i}" for i in range(25)])
    kinds = dict.fromkeys(reference.columns, "numerical")
    model, errors = fit_reconstruction(reference, kinds, chunks=10)
    assert model.components.shape[0] < 6  # 6 fit rows span at most 5 centred directions
    assert len(model.chunk_means) == 6 and errors.n_finite == 6
    window = errors.like(model.errors(pd.DataFrame(rng.normal(size=(40, 25)), columns=kinds)))
    result = score_multivariate(model, errors, window)
    assert result.value is not None and math.isfinite(result.value)


@pytest.mark.parametrize(
    ("frame", "kinds", "message"),
    [
        (pd.DataFrame({"a": range(5), "b": range(5)}), {"a": "numerical", "b": "numerical"}, "5"),
        (
            pd.DataFrame({"a": np.arange(50.0), "b": 1.0}),
            {"a": "numerical", "b": "numerical"},
            "dropped: {'b': 'constant'}",
        ),
        (
            pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7}),
            {"a": "numerical", "b": "numerical"},
            "takes all 2 components",
        ),
    ],
)
def test_nothing_to_fit_is_said_clearly(frame, kinds, message):
    with pytest.raises(MultivariateUnavailable, match=message.replace("{", r"\{")):
        fit_reconstruction(frame, kinds, variance=0.65 if "takes" not in message else 0.99)
    assert MIN_REFERENCE_ROWS == 10


def test_bad_settings_name_the_setting():
    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 2})
    with pytest.raises(ValueError, match="variance must be a share in"):
        fit_reconstruction(frame, {"a": "numerical", "b": "numerical"}, variance=65)
    with pytest.raises(ValueError, match="chunks must be at least 2"):
        fit_reconstruction(frame, {"a": "numerical", "b": "numerical"}, chunks=1)


def test_the_metric_by_hand():
    reference = fit_numerical(np.array([1.0, 2.0, 3.0, 4.0]), 40)
    current = reference.like(np.array([3.0, 5.0]))
    # μ_b 2.5, s_b² 1.25, n_b 4, n_c 2, between 0.5: σ² = 0.5 + 1.25/4 + 1.25/2
    result = score_column("reconstruction_error", reference, current, between=0.5)
    assert result.value == pytest.approx(1.5 / math.sqrt(0.5 + 0.3125 + 0.625), rel=1e-12)
    assert score_column("reconstruction_error", reference, reference).value == 0.0
    constant = fit_numerical(np.ones(10), 40)
    assert score_column("reconstruction_error", constant, constant).status == "undefined"
    with pytest.raises(ValueError, match="between must be a variance"):
        score_column("reconstruction_error", reference, current, between=-1.0)


def test_the_retraining_policy_counts_features_not_the_multivariate_score():
    from datetime import UTC, datetime, timedelta

    from monitoring_pipelines.stats.alert_policy import DriftRecord
    from monitoring_pipelines.stats.retraining import drifted_features

    start = datetime(2026, 11, 4, tzinfo=UTC)

    def record(column: str, metric: str) -> DriftRecord:
        end = start + timedelta(hours=1)
        return DriftRecord("m", start, end, "hour", column, metric, 5.0, None, 3.0, "x", True)

    records = [record(MULTIVARIATE, "reconstruction_error"), record("a", "psi")]
    assert drifted_features(records) == (start, frozenset({"a"}))


def blas_threads() -> list[int]:
    """The thread count of every BLAS library loaded in the process."""
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_errors_run_on_one_blas_thread_and_give_the_bits_of_the_threaded_products(monkeypatch):
    rng = np.random.default_rng(7)
    mixing = rng.normal(size=(30, 30))
    reference, current = (
        pd.DataFrame(rng.normal(size=(n, 30)) @ mixing, columns=[f"x{j}" for j in range(30)])
        for n in (5_000, 70_000)  # more rows than one block of BLOCK_ROWS
    )
    model, _ = fit_reconstruction(reference, dict.fromkeys(reference.columns, "numerical"))
    with threadpool_limits(limits=2, user_api="blas"):  # what the products ran on before
        complement = np.eye(30) - model.components.T @ model.components
        blocks = [
            (complement @ z.copy())
            for _, z in multivariate._standardized_blocks(model.columns, Columns.of(current))
        ]
        expected = np.concatenate([np.sqrt(np.einsum("ij,ij->j", r, r)) for r in blocks])
        before = blas_threads()
        seen: list[list[int]] = []
        blocks_of = multivariate._standardized_blocks

        def watched(*args):
            for item in blocks_of(*args):
                seen.append(blas_threads())
                yield item

        monkeypatch.setattr(multivariate, "_standardized_blocks", watched)
        got = model.errors(current)
        assert blas_threads() == before  # the process's setting is given back
    assert len(seen) == 2 and all(threads == [1] * len(before) for threads in seen)
    np.testing.assert_array_equal(got, expected)
