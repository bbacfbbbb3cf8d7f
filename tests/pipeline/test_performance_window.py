"""One hour's predictions joined with the labels arrived so far, stored per partition, equal to
scikit-learn on the same labelled rows; reruns are idempotent; later labels change the numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn import metrics as sk
from sqlalchemy import func, select

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.pipeline.performance import (
    UNLABELLED,
    label_source,
    performance_windows,
    stale_hours,
)
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.store.performance import merged_latency, stored_windows, window_values
from monitoring_pipelines.store.schema import model_performance

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
H = timedelta(hours=1)
N = 2_000


def config(tmp_path, labels: bool = True):
    deployment = {
        "id": "fraud",
        "reference": {"path": "ref.parquet"},
        "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
        "start": "2026-11-01T00:00:00Z",
        "columns": [
            {"name": "rid", "role": "request_id"},
            {"name": "ts", "role": "timestamp"},
            {"name": "x", "type": "numerical"},
            {"name": "pred", "type": "categorical", "role": "prediction"},
            {"name": "p", "type": "numerical", "role": "score"},
            {"name": "ms", "type": "numerical", "role": "latency"},
            {"name": "y", "type": "categorical", "role": "label"},
        ],
    }
    if labels:
        deployment["labels"] = {
            "type": "parquet",
            "path": "labels",
            "arrival_column": "at",
            "task": "binary",
            "positive_class": "1",
            "label_horizon_hours": 48,
        }
    return parse_config({"deployments": [deployment]}, base=tmp_path)


@pytest.fixture
def world(tmp_path):
    """Two hours of logs; labels for 30 % of hour 0 within 2 h, 40 % more by 30 h, some
    arriving after the horizon, some for unknown request ids, one request labelled twice."""
    rng = np.random.default_rng(11)
    logs = []
    for hour in range(2):
        p = rng.uniform(size=N)
        frame = pd.DataFrame(
            {
                "rid": [f"h{hour}-{i}" for i in range(N)],
                "ts": pd.to_datetime(T0 + hour * H) + pd.to_timedelta(rng.uniform(0, 3599, N), "s"),
                "x": rng.normal(size=N),
                "pred": (p > 0.5).astype(int),
                "p": p,
                "ms": rng.lognormal(3, 0.5, N),
            }
        )
        folder = hour_folder(tmp_path / "logs", T0 + hour * H)
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "a.parquet")
        logs.append(frame)
    truth = (rng.uniform(size=2 * N) < np.concatenate([f.p for f in logs])).astype(int)
    ids = np.concatenate([f.rid for f in logs])
    delay = np.where(rng.uniform(size=2 * N) < 0.3, 1.0, 30.0)  # hours after T0
    delay[rng.uniform(size=2 * N) < 0.3] = np.inf  # never labelled
    delay[-50:] = 60.0  # beyond hour 1's 48 h horizon
    arrived = np.isfinite(delay)
    labels = pd.DataFrame(
        {
            "rid": np.concatenate([ids[arrived], [f"ghost{i}" for i in range(40)], ["h0-1"]]),
            "y": np.concatenate([truth[arrived], np.ones(40, int), [1 - truth[1]]]),
            "at": pd.to_datetime(T0)
            + pd.to_timedelta(np.concatenate([delay[arrived], np.full(40, 1.5), [40.0]]), "h"),
        }
    )
    (tmp_path / "labels").mkdir()
    pq.write_table(
        pa.Table.from_pandas(labels, preserve_index=False), tmp_path / "labels/l.parquet"
    )
    return pd.concat(logs, ignore_index=True), labels, truth


def expected_rows(logs, labels, start, cutoff):
    """The labelled rows of the hour starting at ``start``, computed the plain pandas way."""
    hour = logs[(logs.ts >= start) & (logs.ts < start + H)]
    arrived = labels[(labels["at"] >= start) & (labels["at"] < cutoff)].sort_values("at")
    latest = arrived.drop_duplicates("rid", keep="last")
    return hour.merge(latest, on="rid")


def test_hour_equals_sklearn_and_converges_as_labels_arrive(tmp_path, world, sqlite_engine):
    logs, labels, _ = world
    cfg = config(tmp_path)
    windows = [("fraud", T0), ("fraud", T0 + H)]
    early = performance_windows(cfg, sqlite_engine, windows, now=T0 + 3 * H)
    first = early[0].performance
    rows = expected_rows(logs, labels, T0, T0 + 3 * H)
    assert first.labelled_rows == len(rows) and 0.2 < first.labelled_share < 0.4
    assert first.metrics["accuracy"] == pytest.approx(sk.accuracy_score(rows.y, rows.pred))
    assert first.metrics["f1"] == pytest.approx(sk.f1_score(rows.y, rows.pred))
    assert first.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(rows.y, rows.p))
    assert first.metrics["log_loss"] == pytest.approx(sk.log_loss(rows.y, rows.p))
    assert early[0].labels_through == T0 + 3 * H
    assert early[0].labels_read > first.labelled_rows  # ghosts and hour 1's labels ignored

    late = performance_windows(cfg, sqlite_engine, windows, now=T0 + 100 * H)
    rows = expected_rows(logs, labels, T0, T0 + H + 48 * H)
    assert late[0].performance.labelled_rows == len(rows) > first.labelled_rows
    assert late[0].performance.metrics["accuracy"] == pytest.approx(
        sk.accuracy_score(rows.y, rows.pred)
    )
    assert late[0].labels_through == T0 + 49 * H  # the horizon, not now
    relabelled = rows.set_index("rid").loc["h0-1", "y"]
    assert relabelled == labels.y.iloc[-1]  # the later label of h0-1 won
    hour1 = expected_rows(logs, labels, T0 + H, T0 + 50 * H)
    assert late[1].performance.labelled_rows == len(hour1)  # the 60 h labels are past horizon

    stored = stored_windows(sqlite_engine, "fraud", T0, T0 + 2 * H)
    assert stored[T0].n_labelled == len(rows) and stored[T0].n_scored == N
    values = {(s, m): v for s, m, v in window_values(sqlite_engine, "fraud", T0, T0 + 2 * H)}
    assert values[(T0, "accuracy")] == pytest.approx(late[0].performance.metrics["accuracy"])


def test_rerun_is_idempotent_and_latency_merges(tmp_path, world, sqlite_engine):
    logs, _, _ = world
    cfg = config(tmp_path)
    windows = [("fraud", T0), ("fraud", T0 + H)]

    def count():
        with sqlite_engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model_performance)).scalar()

    performance_windows(cfg, sqlite_engine, windows, now=T0 + 100 * H)
    once = count()
    performance_windows(cfg, sqlite_engine, windows, now=T0 + 100 * H)
    assert count() == once
    day = merged_latency(sqlite_engine, "fraud", T0, T0 + 2 * H)
    assert day.count == 2 * N
    exact = np.percentile(logs.ms, 95, method="lower")
    assert day.quantile(0.95) == pytest.approx(exact, rel=day.relative_accuracy)


def test_no_labelled_rows_and_no_labels_block(tmp_path, world, sqlite_engine):
    summary = performance_windows(config(tmp_path), sqlite_engine, [("fraud", T0)], now=T0)[0]
    assert summary.performance.status == "insufficient_labels"
    assert summary.performance.rows_scored == N and summary.latency.count == N
    cfg = config(tmp_path, labels=False)
    summary = performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + 99 * H)[0]
    assert summary.performance.status == UNLABELLED
    with pytest.raises(ValueError, match="'fraud' has no labels block"):
        label_source(cfg, cfg.deployments[0])


def test_only_hours_whose_labels_changed_are_stale(tmp_path, world, sqlite_engine):
    cfg = config(tmp_path)
    deployment = cfg.deployments[0]
    windows = [("fraud", T0), ("fraud", T0 + H)]
    performance_windows(cfg, sqlite_engine, windows, now=T0 + 3 * H)
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 3 * H) == []
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 20 * H) == []  # none arrived since
    # the ghosts' labels at 1.5 h are newer than nothing: only real requests count
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 40 * H) == [T0, T0 + H]
    performance_windows(cfg, sqlite_engine, windows[:1], now=T0 + 40 * H)
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 40 * H) == [T0 + H]
    # h0-1 was relabelled at exactly 40 h, after the cutoff [.., 40 h) it was computed with
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 41 * H) == [T0, T0 + H]


def test_an_hour_past_its_horizon_is_computed_once_more_with_its_final_labels(
    tmp_path, world, sqlite_engine
):
    """CloudWatch gets an hour's realized performance only from a computation with final
    labels, so an hour last computed before its horizon is stale once the horizon passed,
    even when no label arrived since, until it is computed with them (within a week)."""
    cfg = config(tmp_path)  # horizon 48 h: hour 0's labels are final at 49 h, hour 1's at 50 h
    deployment = cfg.deployments[0]
    windows = [("fraud", T0), ("fraud", T0 + H)]
    performance_windows(cfg, sqlite_engine, windows, now=T0 + 45 * H)
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 45 * H) == []
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 49 * H) == [T0]
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 50 * H) == [T0, T0 + H]
    late = T0 + 49 * H + timedelta(days=7)
    assert stale_hours(cfg, sqlite_engine, deployment, late) == [T0, T0 + H]
    assert stale_hours(cfg, sqlite_engine, deployment, late + 2 * H) == []  # past the lookback
    (summary,) = performance_windows(cfg, sqlite_engine, windows[:1], now=T0 + 60 * H)
    assert summary.labels_through == T0 + 49 * H
    assert stale_hours(cfg, sqlite_engine, deployment, T0 + 60 * H) == [T0 + H]


def test_the_sensor_requests_one_range_run_of_the_stale_hours(tmp_path, world, sqlite_url):
    from monitoring_pipelines.defs.late_labels import late_labels_sensor
    from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
    from monitoring_pipelines.store.engine import get_engine

    data = config(tmp_path).model_dump(mode="json")
    data["deployments"][0]["labels"]["label_horizon_hours"] = 24 * 366  # T0 is in the past
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = parse_config(data)
    engine = get_engine(sqlite_url)
    performance_windows(cfg, engine, [("fraud", T0), ("fraud", T0 + H)], now=T0 + 3 * H)
    resources = {
        "store": StoreResource(database_url=sqlite_url),
        "monitors": MonitorsResource(path=str(path)),
    }
    with dg.build_sensor_context(resources=resources) as context:
        result = late_labels_sensor(context)  # now: labels up to 60 h have all arrived
    (request,) = result.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "fraud|2026-11-02-10:00"
    assert request.tags["dagster/asset_partition_range_end"] == "fraud|2026-11-02-11:00"


# A multiclass model that logs each class's probability: one-vs-rest ROC AUC and log loss.
CLASSES = ["bronze", "gold", "silver"]  # sorted: scikit-learn's column order
PROBABILITY = {c: f"p_{c}" for c in CLASSES}


def multiclass_config(tmp_path, validation: bool = False):
    deployment = {
        "id": "tiers",
        "reference": {"path": "ref.parquet"},
        "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
        "start": "2026-11-01T00:00:00Z",
        "columns": [
            {"name": "rid", "role": "request_id"},
            {"name": "ts", "role": "timestamp"},
            {"name": "x", "type": "numerical"},
            {"name": "pred", "type": "categorical", "role": "prediction"},
            {"name": "ms", "type": "numerical", "role": "latency"},
            {"name": "y", "type": "categorical", "role": "label"},
        ],
        "labels": {
            "type": "parquet",
            "path": "labels",
            "arrival_column": "at",
            "task": "multiclass",
            "classes": ["silver", "gold", "bronze"],
            "probabilities": {"silver": "p_silver", "bronze": "p_bronze", "gold": "p_gold"},
            "label_horizon_hours": 48,
        },
        "performance_alerts": {
            "min_labelled_rows": 100,
            "thresholds": {"roc_auc_macro": {"warning": 0.99}, "log_loss": {"warning": 0.05}},
        },
    }
    if validation:
        deployment["validation"] = {"path": "validation.parquet"}
    return parse_config({"deployments": [deployment]}, base=tmp_path)


def multiclass_frame(rng, n: int, without: str | None = None) -> pd.DataFrame:
    """Tied, exactly normalized probabilities and labels drawn from them; with ``without``,
    that class is never the label but keeps a probability of 0.1."""
    weights = rng.integers(0, 6, size=(n, 3)).astype(float)
    if without is not None:
        weights[:, CLASSES.index(without)] = 0
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    truth = weights / weights.sum(axis=1, keepdims=True)
    labels = [rng.choice(CLASSES, p=row) for row in truth]
    matrix = truth if without is None else 0.9 * truth + 0.1 * np.eye(3)[CLASSES.index(without)]
    frame = pd.DataFrame(matrix, columns=[PROBABILITY[c] for c in CLASSES])
    frame["pred"] = np.array(CLASSES)[matrix.argmax(axis=1)]
    frame["y"] = labels
    return frame


@pytest.fixture
def multiclass_world(tmp_path):
    """Two hours of a 3-class model: hour 0 with NaN, certain (0/1) and off-sum probability
    rows; hour 1 without any silver label. 70 % labelled two hours after the hour."""
    rng = np.random.default_rng(88)
    logs = []
    for hour, without in ((0, None), (1, "silver")):
        frame = multiclass_frame(rng, 1_500, without)
        if hour == 0:
            frame.loc[:19, "p_gold"] = np.nan  # missing: counted, left out
            certain = np.eye(3)[rng.integers(0, 3, size=30)]  # 0/1, sometimes wrong
            frame.loc[20:49, [PROBABILITY[c] for c in CLASSES]] = certain
            frame.loc[50:59, "p_bronze"] += 0.3  # sums to 1.3: counted, left out
        frame["rid"] = [f"t{hour}-{i}" for i in range(len(frame))]
        frame["ts"] = pd.to_datetime(T0 + hour * H) + pd.to_timedelta(
            rng.uniform(0, 3599, len(frame)), "s"
        )
        frame["x"] = rng.normal(size=len(frame))
        frame["ms"] = rng.lognormal(3, 0.5, len(frame))
        folder = hour_folder(tmp_path / "logs", T0 + hour * H)
        folder.mkdir(parents=True)
        logged = frame.drop(columns="y")
        pq.write_table(pa.Table.from_pandas(logged, preserve_index=False), folder / "a.parquet")
        logs.append(frame)
    logs = pd.concat(logs, ignore_index=True)
    labelled = logs[rng.uniform(size=len(logs)) < 0.7]
    labels = pd.DataFrame(
        {
            "rid": labelled.rid,
            "y": labelled.y,
            "at": labelled.ts.dt.floor("h") + pd.Timedelta(hours=2),
        }
    )
    (tmp_path / "labels").mkdir()
    pq.write_table(
        pa.Table.from_pandas(labels, preserve_index=False), tmp_path / "labels/l.parquet"
    )
    validation = multiclass_frame(rng, 2_000)
    validation.loc[:9, "p_silver"] = np.nan
    validation.to_parquet(tmp_path / "validation.parquet")
    return labelled.drop(columns="y").merge(labels[["rid", "y"]], on="rid"), validation


def _usable(rows: pd.DataFrame) -> pd.DataFrame:
    matrix = rows[[PROBABILITY[c] for c in CLASSES]]
    return rows[matrix.notna().all(axis=1) & ((matrix.sum(axis=1) - 1).abs() <= 0.01)]


def _stored_details(engine, metric: str, start) -> tuple[float | None, dict]:
    query = select(model_performance.c.value, model_performance.c.details).where(
        model_performance.c.deployment_id == "tiers",
        model_performance.c.kind == "realized",
        model_performance.c.window_start == start,
        model_performance.c.metric == metric,
    )
    with engine.connect() as conn:
        value, details = conn.execute(query).one()
    return value, details


def test_multiclass_auc_and_log_loss_equal_sklearn_and_merge(
    tmp_path, multiclass_world, sqlite_engine
):
    from monitoring_pipelines.pipeline.baseline_performance import fit_baseline_performance
    from monitoring_pipelines.pipeline.performance_rollups import rolled_up
    from monitoring_pipelines.stats.performance_alerts import WindowNumbers, window_alerts
    from monitoring_pipelines.store.performance import (
        read_baseline_performance,
        read_window_performance,
    )

    labelled, validation = multiclass_world
    cfg = multiclass_config(tmp_path, validation=True)
    deployment = cfg.deployments[0]
    baseline = fit_baseline_performance(deployment, sqlite_engine, T0)
    good = _usable(validation)
    columns = [PROBABILITY[c] for c in CLASSES]
    assert baseline.metrics["roc_auc_macro"] == pytest.approx(
        sk.roc_auc_score(good.y, good[columns], multi_class="ovr", labels=CLASSES)
    )
    assert baseline.metrics["log_loss"] == pytest.approx(
        sk.log_loss(good.y, good[columns], labels=CLASSES)
    )
    assert read_baseline_performance(sqlite_engine, "tiers").metrics == baseline.metrics

    windows = [("tiers", T0), ("tiers", T0 + H)]
    hours = performance_windows(cfg, sqlite_engine, windows, now=T0 + 100 * H)
    first = labelled[labelled.rid.str.startswith("t0-")]
    used = _usable(first)
    assert 0 < len(first) - len(used) < 60  # the NaN and off-sum rows that were labelled
    m = hours[0].performance.metrics
    assert m["roc_auc_macro"] == pytest.approx(
        sk.roc_auc_score(used.y, used[columns], multi_class="ovr", labels=CLASSES), abs=1e-12
    )
    assert m["log_loss"] == pytest.approx(sk.log_loss(used.y, used[columns], labels=CLASSES))
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(first.y, first.pred))  # all rows
    per_class = sk.roc_auc_score(
        used.y, used[columns], multi_class="ovr", average=None, labels=CLASSES
    )
    _, stored = _stored_details(sqlite_engine, "per_class", T0)
    assert [stored[c]["roc_auc"] for c in CLASSES] == pytest.approx(list(per_class))
    excluded, counts = _stored_details(sqlite_engine, "probabilities_excluded", T0)
    assert excluded == len(first) - len(used) == counts["missing"] + counts["off_sum"]
    assert counts["used"] == len(used) and counts["unknown_class"] == 0
    _, details = _stored_details(sqlite_engine, "log_loss", T0)
    assert details == {"rows": len(used)}

    second = labelled[labelled.rid.str.startswith("t1-")]
    assert "silver" not in set(second.y)
    m = hours[1].performance.metrics
    assert "roc_auc_macro" not in m  # scikit-learn's is NaN: a class has no row
    assert m["log_loss"] == pytest.approx(sk.log_loss(second.y, second[columns], labels=CLASSES))
    _, stored = _stored_details(sqlite_engine, "per_class", T0 + H)
    assert stored["gold"]["roc_auc"] == pytest.approx(
        sk.roc_auc_score(second.y == "gold", second.p_gold)
    )

    day = rolled_up(sqlite_engine, deployment, "day", T0).performance
    both = pd.concat([used, second])
    assert day.metrics["log_loss"] == pytest.approx(
        sk.log_loss(both.y, both[columns], labels=CLASSES), rel=1e-12
    )
    assert "roc_auc_macro" not in day.metrics  # a rank statistic: not merged

    window = read_window_performance(sqlite_engine, "tiers", T0)
    numbers = WindowNumbers(
        "tiers", T0, T0 + H, window.realized, window.estimated, window.n_labelled
    )
    alerts = window_alerts(numbers, deployment.performance_alerts.rules())
    assert {a.metric for a in alerts} == {"roc_auc_macro", "log_loss"}


def test_a_validation_set_without_a_probability_column_is_named(
    tmp_path, multiclass_world, sqlite_engine
):
    from monitoring_pipelines.pipeline.baseline_performance import fit_baseline_performance

    _, validation = multiclass_world
    validation.drop(columns="p_gold").to_parquet(tmp_path / "validation.parquet")
    deployment = multiclass_config(tmp_path, validation=True).deployments[0]
    with pytest.raises(
        ValueError,
        match=r"lacks probability column\(s\) \(labels\.probabilities"
        r"\.gold: 'p_gold'\)",
    ):
        fit_baseline_performance(deployment, sqlite_engine, T0)
