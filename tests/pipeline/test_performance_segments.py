"""Performance per segment, in the same pass as the population's: each segment's metrics equal
scikit-learn on that segment's labelled rows, a key's segments add up to the population, the
cap folds the same values as the aggregation does, a small segment is insufficient_data (its
mergeable sums still stored), and rolled-up windows merge per segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as sk
from sqlalchemy import select

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.pipeline.performance_rollups import rolled_up, rolled_up_segments
from monitoring_pipelines.sources.parquet import hour_folder
from monitoring_pipelines.stats.dataset import fit_baseline
from monitoring_pipelines.stats.segmented import profile_segmented_chunks, row_segments
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.performance import read_window_segments
from monitoring_pipelines.store.schema import model_performance

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
H = timedelta(hours=1)
N = 3_000
REGIONS = ["eu", "us", "apac", "latam"]
SHARES = [0.45, 0.27, 0.18, 0.10]  # latam: about 300 rows an hour, 100 labelled
CHANNELS = ["web", "app", "store", "phone", "partner"]


def config(tmp_path, labels: bool = True, **blocks):
    deployment = {
        "id": "fraud",
        "reference": {"path": "ref.parquet"},
        "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
        "start": "2026-11-01T00:00:00Z",
        "columns": [
            {"name": "rid", "role": "request_id"},
            {"name": "ts", "role": "timestamp"},
            {"name": "x", "type": "numerical"},
            {"name": "region", "type": "categorical", "role": "segment"},
            {"name": "channel", "type": "categorical", "role": "segment"},
            {"name": "pred", "type": "categorical", "role": "prediction"},
            {"name": "p", "type": "numerical", "role": "score"},
            {"name": "ms", "type": "numerical", "role": "latency"},
            {"name": "y", "type": "categorical", "role": "label"},
        ],
        "segments": [{"column": "region", "min_rows": 150}, {"column": "channel", "max_values": 3}],
        "drift": {"min_rows": 100},  # channel's min_rows (region's is its own)
        **blocks,
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
    """Two hours of logs over four regions and five channels; a third of the rows labelled,
    the model worse in apac than elsewhere (its predictions flipped for half of apac's rows)."""
    rng = np.random.default_rng(13)
    logs = []
    for hour in range(2):
        p = rng.uniform(size=N)
        region = rng.choice(REGIONS, size=N, p=SHARES)
        pred = (p > 0.5).astype(int)
        flip = (region == "apac") & (rng.uniform(size=N) < 0.5)
        frame = pd.DataFrame(
            {
                "rid": [f"h{hour}-{i}" for i in range(N)],
                "ts": pd.to_datetime(T0 + hour * H) + pd.to_timedelta(rng.uniform(0, 3599, N), "s"),
                "x": rng.normal(size=N),
                "region": region,
                "channel": rng.choice(CHANNELS, size=N),
                "pred": np.where(flip, 1 - pred, pred),
                "p": p,
                "ms": rng.lognormal(3, 0.5, N),
            }
        )
        folder = hour_folder(tmp_path / "logs", T0 + hour * H)
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "a.parquet")
        logs.append(frame)
    logs = pd.concat(logs, ignore_index=True)
    truth = (rng.uniform(size=len(logs)) < logs.p).astype(int)
    labelled = rng.uniform(size=len(logs)) < 1 / 3
    labels = pd.DataFrame(
        {
            "rid": logs.rid[labelled],
            "y": truth[labelled],
            "at": pd.to_datetime(T0) + pd.to_timedelta(rng.uniform(1, 5, labelled.sum()), "h"),
        }
    )
    (tmp_path / "labels").mkdir()
    pq.write_table(
        pa.Table.from_pandas(labels, preserve_index=False), tmp_path / "labels/l.parquet"
    )
    return logs, labels


def joined(logs, labels, start):
    hour = logs[(logs.ts >= start) & (logs.ts < start + H)]
    return hour.merge(labels, on="rid")


def test_each_segment_equals_sklearn_on_its_rows_and_the_segments_add_up(
    tmp_path, world, sqlite_engine
):
    logs, labels = world
    cfg = config(tmp_path)
    (summary,) = performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + 10 * H)
    rows = joined(logs, labels, T0)
    segments = summary.segments
    population = summary.performance
    for region in ["eu", "us", "apac"]:
        mine = rows[rows.region == region]
        got = segments[f"region={region}"].performance
        assert got.status == "ok" and got.labelled_rows == len(mine) >= 150
        assert got.metrics["accuracy"] == pytest.approx(sk.accuracy_score(mine.y, mine.pred))
        assert got.metrics["f1"] == pytest.approx(sk.f1_score(mine.y, mine.pred))
        assert got.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(mine.y, mine.p))
        assert got.metrics["log_loss"] == pytest.approx(sk.log_loss(mine.y, mine.p))
        assert got.confusion == tuple(map(tuple, sk.confusion_matrix(mine.y, mine.pred)))
    eu, apac = segments["region=eu"].performance, segments["region=apac"].performance
    assert apac.metrics["accuracy"] < population.metrics["accuracy"] < eu.metrics["accuracy"]

    # latam has too few labelled rows: insufficient_data, but its confusion matrix is kept
    latam = segments["region=latam"].performance
    assert 0 < latam.labelled_rows < 150 and latam.status == "insufficient_data"
    assert latam.metrics == {} and sum(map(sum, latam.confusion)) == latam.labelled_rows

    hour = logs[(logs.ts >= T0) & (logs.ts < T0 + H)]
    for key in ("region", "channel"):
        mine = {s: p for s, p in segments.items() if s.startswith(f"{key}=")}
        assert sum(p.performance.labelled_rows for p in mine.values()) == len(rows)
        assert sum(p.performance.rows_scored for p in mine.values()) == len(hour)
        assert sum(p.latency.count for p in mine.values()) == summary.latency.count == len(hour)
    assert population.labelled_rows == len(rows)

    # the channel cap keeps the values the aggregation keeps; the rest in channel=__other__
    reference = fit_baseline(hour, cfg.deployments[0].monitored)
    profiled = profile_segmented_chunks([hour], reference, cfg.deployments[0].segment_keys)
    channels = sorted(s for s in segments if s.startswith("channel="))
    assert channels == sorted(s for s in profiled.segments if s.startswith("channel="))
    assert len(channels) == 4 and "channel=__other__" in channels
    names, folding = row_segments(hour, cfg.deployments[0].segment_keys[1])
    assert folding.folded_values == 2 and folding.kept == 3
    other = rows[np.isin(rows.rid, hour.rid[names == "channel=__other__"])]
    got = segments["channel=__other__"].performance
    assert got.metrics["accuracy"] == pytest.approx(sk.accuracy_score(other.y, other.pred))

    # stored with the segment column, read back per segment
    stored = read_window_segments(sqlite_engine, "fraud", T0)
    assert set(stored) == {ALL, *segments}
    assert stored["region=eu"].realized["accuracy"] == pytest.approx(eu.metrics["accuracy"])
    assert stored["region=eu"].n_labelled == eu.labelled_rows
    assert "accuracy" not in stored["region=latam"].realized
    assert stored["region=latam"].status == "insufficient_data"
    assert stored[ALL].estimated == {} and stored[ALL].segment == ALL
    table = model_performance.c
    with sqlite_engine.connect() as conn:
        accounting = conn.execute(
            select(table.segment).where(table.metric == "labels_matched").distinct()
        ).scalars()
        assert list(accounting) == [ALL]  # label accounting is the population's alone


def test_rolled_up_windows_merge_per_segment(tmp_path, world, sqlite_engine):
    logs, labels = world
    cfg = config(tmp_path)
    hours = [("fraud", T0), ("fraud", T0 + H)]
    performance_windows(cfg, sqlite_engine, hours, now=T0 + 10 * H)
    performance_windows(cfg, sqlite_engine, hours, now=T0 + 10 * H)  # a rerun: no duplicates
    rows = pd.concat([joined(logs, labels, T0), joined(logs, labels, T0 + H)])
    deployment = cfg.deployments[0]
    windows = rolled_up_segments(sqlite_engine, deployment, "day", T0 + H)
    population = rolled_up(sqlite_engine, deployment, "day", T0 + H)
    assert windows[ALL].performance == population.performance
    assert population.performance.labelled_rows == len(rows)
    for region in REGIONS:
        mine = rows[rows.region == region]
        day = windows[f"region={region}"]
        assert day.hours == 2 and day.performance.labelled_rows == len(mine) >= 150
        assert day.performance.metrics["accuracy"] == pytest.approx(
            sk.accuracy_score(mine.y, mine.pred)
        )
        assert day.latency.count == int((logs.region == region).sum())
    # latam's hours were too small to judge (their sums were kept); its day is not
    assert windows["region=latam"].performance.status == "ok"
    assert windows["region=latam"].performance.metrics["f1"] == pytest.approx(
        sk.f1_score(rows.y[rows.region == "latam"], rows.pred[rows.region == "latam"])
    )
    hourly = read_window_segments(sqlite_engine, "fraud", T0)["region=latam"]
    assert hourly.status == "insufficient_data" and "accuracy" not in hourly.realized
    # a key without min_rows of its own takes the deployment's
    other = "channel=__other__"
    assert windows[other].performance.status == "ok"
    strict = rolled_up_segments(sqlite_engine, deployment, "day", T0 + H, other, 10**6)
    assert strict[other].performance.status == "insufficient_data"
    eu = rolled_up(sqlite_engine, deployment, "day", T0 + H, segment="region=eu")
    assert eu.performance == windows["region=eu"].performance
    mine = rows[rows.region == "eu"]
    assert eu.performance.metrics["log_loss"] == pytest.approx(sk.log_loss(mine.y, mine.p))
    assert "log_loss" not in windows["region=latam"].performance.metrics  # hours had none


def test_without_labels_the_segments_still_count_rows_and_latency(tmp_path, world, sqlite_engine):
    logs, _ = world
    cfg = config(tmp_path, labels=False)
    (summary,) = performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + 10 * H)
    hour = logs[(logs.ts >= T0) & (logs.ts < T0 + H)]
    eu = summary.segments["region=eu"]
    assert eu.performance.status == "unlabelled"
    assert eu.performance.rows_scored == int((hour.region == "eu").sum()) == eu.latency.count
    exact = np.percentile(hour.ms[hour.region == "eu"], 95, method="lower")
    stored = read_window_segments(sqlite_engine, "fraud", T0)["region=eu"]
    assert stored.realized["latency_p95"] == pytest.approx(exact, rel=eu.latency.relative_accuracy)
