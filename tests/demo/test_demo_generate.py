"""The demo generator: layout, determinism, seasonality, injected drift, clean hours, labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from monitoring_pipelines.demo.applicants import CATEGORICAL, FEATURES, NUMERICAL
from monitoring_pipelines.demo.generate import (
    MEAN_BATCH_ROWS,
    PEAK_HOUR,
    Role,
    _labels,
    decorrelated_hours,
    generate_demo,
    regional_hours,
    traffic_weight,
)
from monitoring_pipelines.sources.base import read_reference
from monitoring_pipelines.sources.parquet import ParquetLogSource
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks

END = datetime(2025, 3, 4, tzinfo=UTC)
HOUR = timedelta(hours=1)
TINY = {"hours": 6, "drift_from_hour": 3, "rows_per_hour": 200, "reference_rows": 2000}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate_demo(tmp_path_factory.mktemp("tiny"), END, seed=3, **TINY)


def hour_frames(demo) -> list[pd.DataFrame]:
    return [
        pd.read_parquet(demo.logs_path / f"date={h:%Y-%m-%d}" / f"hour={h:%H}")
        for h in (demo.start + i * HOUR for i in range(len(demo.rows_per_hour)))
    ]


def psi(reference: np.ndarray, production: np.ndarray, bins: int) -> float:
    """PSI on reference quantile bins (outer bins open, missing values as their own bin)."""
    finite = reference[~np.isnan(reference)]
    inner = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1))[1:-1])
    edges = np.concatenate(([-np.inf], inner, [np.inf]))

    def shares(x: np.ndarray) -> np.ndarray:
        counts = np.append(np.histogram(x[~np.isnan(x)], edges)[0], np.isnan(x).sum())
        return np.maximum(counts / x.size, 1e-4)

    p, q = shares(reference), shares(production)
    return float(np.sum((q - p) * np.log(q / p)))


def category_psi(reference: pd.Series, production: pd.Series) -> float:
    values = sorted(set(reference) | set(production))
    p = np.maximum(reference.value_counts(normalize=True).reindex(values, fill_value=0), 1e-4)
    q = np.maximum(production.value_counts(normalize=True).reindex(values, fill_value=0), 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def test_layout_and_columns(tiny):
    assert tiny.start == END - 6 * HOUR and tiny.end == END
    assert tiny.drift_start == END - 3 * HOUR
    folders = sorted(p.relative_to(tiny.logs_path).as_posix() for p in tiny.logs_path.glob("*/*"))
    assert folders == [f"date=2025-03-03/hour={h}" for h in range(18, 24)]
    # written through the logging client's ParquetSink: one file per hour, nothing half-written
    assert all(len(list((tiny.logs_path / f).glob("part-*.parquet"))) == 1 for f in folders)
    assert not [p for p in tiny.logs_path.rglob(".*")]
    assert json.loads((tiny.root / "demo.json").read_text())["rows"] == sum(tiny.rows_per_hour)

    logs = hour_frames(tiny)
    assert [len(f) for f in logs] == list(tiny.rows_per_hour)
    expected = [c.name for c in tiny.columns if c.role is not Role.LABEL]
    assert all(list(f.columns) == expected for f in logs)
    assert tiny.names(Role.FEATURE) == list(FEATURES)
    assert tiny.kinds(Role.PREDICTION, Role.CONFIDENCE, Role.LABEL) == {
        "predicted_class": "categorical",
        "confidence": "numerical",
        "defaulted": "categorical",
    }
    reference = read_reference(tiny.reference_path)
    assert set(reference.columns) == set(FEATURES) | {
        "defaulted",
        "predicted_class",
        "confidence",
        "score",
    }
    assert len(reference) == tiny.reference_rows


def test_rows_are_sorted_inside_their_hour_with_unique_ids(tiny):
    logs = hour_frames(tiny)
    for i, frame in enumerate(logs):
        start = tiny.start + i * HOUR
        assert frame.scored_at.is_monotonic_increasing
        assert (frame.scored_at >= start).all() and (frame.scored_at < start + HOUR).all()
    ids = pd.concat(logs).request_id
    assert ids.is_unique and ids.str.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}").all()


def test_model_outputs_are_consistent(tiny):
    for frame in [read_reference(tiny.reference_path), *hour_frames(tiny)]:
        np.testing.assert_allclose(frame.confidence, np.maximum(frame.score, 1 - frame.score))
        assert ((frame.score > 0.5) == (frame.predicted_class == 1)).all()
    reference = read_reference(tiny.reference_path)
    assert roc_auc_score(reference.defaulted, reference.score) > 0.7


def test_reference_has_realistic_shapes(tiny):
    ref = read_reference(tiny.reference_path)
    assert 0.1 < ref.defaulted.mean() < 0.4
    assert set(ref.loan_term_months) <= {12, 24, 36, 60}
    assert (ref.num_late_payments == 0).mean() > 0.6
    assert 0.03 < ref.years_employed.isna().mean() < 0.07
    assert ref.annual_income.median() < ref.annual_income.mean()  # right-skewed
    assert ref.credit_utilization.between(0, 1).all() and ref.age.between(18, 80).all()
    assert abs(ref.num_open_accounts.var() / ref.num_open_accounts.mean() - 1) < 0.15  # Poisson
    assert ref[list(FEATURES)].drop(columns="years_employed").notna().all().all()


def test_deterministic_for_a_seed(tiny, tmp_path):
    again = generate_demo(tmp_path / "again", END, seed=3, **TINY)
    assert again.rows_per_hour == tiny.rows_per_hour
    for a, b in zip(hour_frames(again), hour_frames(tiny), strict=True):
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(again.labels_path), pd.read_parquet(tiny.labels_path)
    )
    other = generate_demo(tmp_path / "other", END, seed=4, **TINY)
    assert not hour_frames(other)[0].equals(hour_frames(tiny)[0])


def test_drift_after_drift_from_hour(tiny):
    ref = read_reference(tiny.reference_path)
    logs = hour_frames(tiny)
    clean, drifted = pd.concat(logs[:3]), pd.concat(logs[3:])
    assert set(tiny.drifted_columns) == {"annual_income", "loan_purpose", "years_employed"}
    assert 0.9 < clean.annual_income.mean() / ref.annual_income.mean() < 1.1
    assert 1.2 < drifted.annual_income.mean() / ref.annual_income.mean() < 1.5
    assert "crypto" not in set(ref.loan_purpose) | set(clean.loan_purpose)
    assert 0.10 < (drifted.loan_purpose == "crypto").mean() < 0.20
    assert clean.years_employed.isna().mean() < 0.10
    assert 0.24 < drifted.years_employed.isna().mean() < 0.36


def test_clean_hours_do_not_look_drifted(tiny):
    ref = read_reference(tiny.reference_path)
    logs = hour_frames(tiny)
    for hour in logs[:3]:
        for name in NUMERICAL:
            x = hour[name].to_numpy(dtype=float)
            assert psi(ref[name].to_numpy(dtype=float), x, bins=5) < 0.1, name
        for name in CATEGORICAL:
            assert category_psi(ref[name], hour[name]) < 0.1, name
    drifted = pd.concat(logs[3:])
    assert psi(ref.annual_income.to_numpy(), drifted.annual_income.to_numpy(), bins=10) > 0.2
    assert psi(ref.years_employed.to_numpy(), drifted.years_employed.to_numpy(), bins=10) > 0.2
    assert category_psi(ref.loan_purpose, drifted.loan_purpose) > 0.2
    for name in set(FEATURES) - set(tiny.drifted_columns):
        if name in CATEGORICAL:
            assert category_psi(ref[name], drifted[name]) < 0.1, name
        else:
            assert psi(ref[name].to_numpy(float), drifted[name].to_numpy(float), 5) < 0.1, name


def test_daily_seasonality(tmp_path):
    demo = generate_demo(tmp_path, END, hours=24, rows_per_hour=100, reference_rows=500)
    counts = np.array(demo.rows_per_hour)
    assert abs(counts.sum() / (24 * 100) - 1) < 0.1
    by_hour = dict(zip([(demo.start + i * HOUR).hour for i in range(24)], counts, strict=True))
    day = np.mean([by_hour[h] for h in range(12, 19)])
    night = np.mean([by_hour[h] for h in range(0, 7)])
    assert day > 2 * night


def test_labels_arrive_late_and_partially(tiny):
    labels = pd.read_parquet(tiny.labels_path)
    logs = pd.concat(hour_frames(tiny))
    assert list(labels.columns) == ["request_id", "defaulted", "labelled_at"]
    assert 0 < len(labels) == tiny.labelled_rows < len(logs)
    joined = labels.merge(logs[["request_id", "scored_at"]], on="request_id", validate="1:1")
    assert len(joined) == len(labels)
    assert (joined.labelled_at >= joined.scored_at + HOUR).all()
    assert (joined.labelled_at < END).all()
    assert set(labels.defaulted) <= {0, 1}
    share = joined.groupby(joined.scored_at.dt.floor("h")).size() / logs.groupby(
        logs.scored_at.dt.floor("h")
    ).size().reindex(joined.scored_at.dt.floor("h").unique())
    assert share.iloc[0] > share.iloc[-1]


def test_label_delay_is_mostly_within_a_day_with_a_tail_over_days():
    n = 20_000
    logs = pd.DataFrame(
        {
            "request_id": [str(i) for i in range(n)],
            "scored_at": pd.Timestamp(END) - pd.Timedelta(days=30),
        }
    )
    labels = _labels(np.random.default_rng(0), logs, np.zeros(n, int), END)
    assert len(labels) / n == pytest.approx(0.6, abs=0.02)
    delay = (labels.labelled_at - logs.scored_at.iloc[0]).dt.total_seconds() / 3600
    assert (delay >= 1).all()
    assert 0.75 < (delay < 24).mean() < 0.95
    assert 0.01 < (delay > 72).mean() < 0.1


def test_latency_is_each_model_calls_with_a_few_slow_calls(tmp_path):
    demo = generate_demo(tmp_path, END, hours=24, rows_per_hour=1000, reference_rows=500, seed=1)
    logs = pd.concat(hour_frames(demo))
    latency = logs.latency_ms
    assert (latency > 0).all()
    # the wrapper logs one latency per call: requests of one call share it
    calls = (latency != latency.shift()).cumsum()
    sizes = logs.groupby(calls).size()
    assert 0.5 * MEAN_BATCH_ROWS < sizes.mean() < 1.5 * MEAN_BATCH_ROWS
    per_call = latency.groupby(calls).first()
    assert 20 < per_call.median() < 60  # ~35 ms
    assert per_call.max() > 5 * per_call.median()
    assert (per_call > 5 * per_call.median()).mean() < 0.05


def test_logs_read_through_the_parquet_source_and_profile(tiny):
    source = ParquetLogSource(tiny.logs_path, tiny.timestamp_column, chunk_rows=64)
    assert source.available_hours(tiny.start, tiny.end) == [tiny.start + i * HOUR for i in range(6)]
    baseline = fit_baseline(read_reference(tiny.reference_path), tiny.kinds(Role.FEATURE))
    last = tiny.end - HOUR
    profile = profile_chunks(source.read_window(last, tiny.end), baseline)
    assert profile.row_count == tiny.rows_per_hour[-1]
    assert profile.columns["loan_purpose"].new_categories == ["crypto"]


def test_rerun_replaces_a_previous_demo_but_not_foreign_files(tiny, tmp_path):
    root = tmp_path / "demo"
    generate_demo(root, END, **TINY)
    later = generate_demo(root, END + 24 * HOUR, **TINY)
    assert [p.name for p in later.logs_path.iterdir()] == ["date=2025-03-04"]
    foreign = tmp_path / "foreign"
    (foreign / "logs").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not a previous demo"):
        generate_demo(foreign, END, **TINY)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": datetime(2025, 3, 4)}, "timezone-aware"),
        ({"end": END + timedelta(minutes=30)}, "hour boundary"),
        ({"hours": 0}, "hours must be at least 1"),
        ({"drift_from_hour": -1}, "drift_from_hour must be >= 0"),
        ({"rows_per_hour": 0}, "rows_per_hour"),
        ({"reference_rows": 10}, "reference_rows must be at least 200"),
    ],
)
def test_arguments_are_checked(tmp_path, changes, message):
    arguments = {"end": END, **TINY, **changes}
    with pytest.raises(ValueError, match=message):
        generate_demo(tmp_path, **arguments)


def test_no_drift_when_drift_from_hour_is_past_the_window(tmp_path):
    demo = generate_demo(tmp_path, END, hours=2, rows_per_hour=100, reference_rows=500)
    assert demo.drift_start is None and demo.drifted_columns == ()
    assert "crypto" not in set(pd.concat(hour_frames(demo)).loan_purpose)


@pytest.mark.slow
def test_default_size_averages_rows_per_hour(tmp_path):
    """How long it takes is the demo's business in benchmarks, not a test's (load varies)."""
    demo = generate_demo(tmp_path, END)
    assert abs(sum(demo.rows_per_hour) / (72 * 2000) - 1) < 0.03


def test_the_regional_hour_is_the_busiest_clean_hour_before_the_shuffled_ones():
    start = datetime(2026, 11, 7, tzinfo=UTC)  # the default 72 hours from midnight
    [hour] = regional_hours(start, 72, 48)
    assert hour == PEAK_HOUR == 15 and hour < min(decorrelated_hours(72, 48))
    evening = datetime(2026, 11, 9, 16, tzinfo=UTC)  # the session demo: 8 hours, drift at 4
    assert regional_hours(evening, 8, 4) == (0,)  # 16:00 beats 17:00; 18:00 is shuffled
    weights = traffic_weight(np.arange(24))
    for hour_of_day in range(24):
        begin = start.replace(hour=hour_of_day)
        [chosen] = regional_hours(begin, 72, 48)
        assert (hour_of_day + chosen) % 24 == int(np.argmax(weights)) == PEAK_HOUR
    assert regional_hours(start, 4, 0) == ()  # drifted from the first hour: no clean hour
