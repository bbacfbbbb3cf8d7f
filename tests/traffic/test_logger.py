"""MonitoringLogger, monitor() and ParquetSink: a real scikit-learn model's traffic logged,
read back through ParquetLogSource, profiled to the same aggregates as the rows written
directly; a sink that is down; atomic files; flush at exit."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from monitoring_pipelines.config import parse_config
from monitoring_pipelines.sources.parquet import ParquetLogSource
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks, profile_frame
from monitoring_pipelines.store.aggregates import profile_rows
from monitoring_pipelines.traffic import MonitoringLogger, ParquetSink, monitor

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
KINDS = {"income": "numerical", "age": "numerical", "purpose": "categorical"}


def applicants(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.integers(18, 80, n).astype(float),
            "purpose": rng.choice(["car", "home", "debt"], n),
        }
    )


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    rng = np.random.default_rng(0)
    frame = applicants(rng, 500)
    labels = (frame["income"] > frame["income"].median()).astype(int)
    return LogisticRegression(max_iter=200).fit(frame[["income", "age"]], labels)


def read_logs(path: Path, start=None, end=None) -> pd.DataFrame:
    """Every row logged under ``path`` (by default from T0 - 1 day to an hour from now)."""
    start = start or T0 - 24 * HOUR
    end = end or datetime.now(UTC) + HOUR
    chunks = list(ParquetLogSource(path, "timestamp").read_window(start, end))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def test_every_predict_call_is_logged_with_inputs_outputs_latency_and_request_id(tmp_path, model):
    rng = np.random.default_rng(1)
    logger = MonitoringLogger("credit", ParquetSink(tmp_path), flush_seconds=0.05)
    wrapped = monitor(model, logger)
    calls, answers = [], []
    for n in (1, 7, 30):
        X = applicants(rng, n)[["income", "age"]]
        answers.append(("predict", X, wrapped.predict(X), wrapped.last_request_ids))
        calls.append(X)
    X = applicants(rng, 12)[["income", "age"]]
    answers.append(("predict_proba", X, wrapped.predict_proba(X), wrapped.last_request_ids))
    assert logger.flush(10)
    logger.close()

    rows = read_logs(tmp_path).set_index("request_id")
    assert len(rows) == 1 + 7 + 30 + 12 == logger.status().delivered
    for method, X, answer, ids in answers:
        assert len(set(ids)) == len(X)
        logged = rows.loc[ids]
        np.testing.assert_array_equal(logged[["income", "age"]].to_numpy(), X.to_numpy())
        assert (logged["latency_ms"] > 0).all()
        assert logged["latency_ms"].nunique() == 1  # one call, one latency
        if method == "predict":
            np.testing.assert_array_equal(answer, model.predict(X))
            np.testing.assert_array_equal(logged["prediction"].to_numpy(), answer)
        else:
            np.testing.assert_array_equal(answer, model.predict_proba(X))
            np.testing.assert_array_equal(
                logged["prediction"], model.classes_[answer.argmax(axis=1)]
            )
            np.testing.assert_allclose(logged["confidence"], answer.max(axis=1), rtol=0)
            np.testing.assert_allclose(logged["score"], answer[:, 1], rtol=0)
    assert "confidence" not in rows.columns or rows.loc[answers[0][3], "confidence"].isna().all()


def test_logged_rows_profile_to_the_aggregates_of_the_rows_written_directly(tmp_path, model):
    rng = np.random.default_rng(2)
    reference = applicants(rng, 2000)
    reference["prediction"] = model.predict(reference[["income", "age"]])
    kinds = {**KINDS, "prediction": "categorical"}
    baseline = fit_baseline(reference, kinds, n_bins=10)

    production = applicants(rng, 900)
    production.loc[::17, "income"] = np.nan  # missing values go through the log too
    stamps = [T0 + timedelta(seconds=4 * i) for i in range(len(production))]
    predictions = model.predict(production[["income", "age"]].fillna(0))
    logger = MonitoringLogger("credit", ParquetSink(tmp_path), batch_rows=128)
    rows = production.to_dict("records")
    for row, prediction, when in zip(rows, predictions, stamps, strict=True):
        logger.log(row, prediction, timestamp=when)
    logger.close()
    production["prediction"] = predictions

    logged = profile_chunks(
        ParquetLogSource(tmp_path, "timestamp", chunk_rows=100).read_window(T0, T0 + HOUR),
        baseline,
    )
    direct = profile_frame(production, baseline)
    assert logged.row_count == direct.row_count == 900
    assert_same_rows(profile_rows(logged), profile_rows(direct))


def assert_same_rows(got: list[dict], want: list[dict]) -> None:
    """Aggregate rows equal: counts exactly, moments to 1e-12 (chunked merges round apart)."""
    assert [r["column_name"] for r in got] == [r["column_name"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) and isinstance(b[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-9), key
            else:
                assert a[key] == b[key], key


def config_for(path: Path):
    return parse_config(
        {
            "deployments": [
                {
                    "id": "credit",
                    "reference": {"path": str(path / "ref.parquet")},
                    "logs": {"type": "parquet", "path": str(path), "timestamp_column": "scored_at"},
                    "start": "2026-11-01T00:00:00Z",
                    "columns": [
                        {"name": "rid", "role": "request_id"},
                        {"name": "scored_at", "role": "timestamp"},
                        {"name": "income", "type": "numerical"},
                        {"name": "purpose", "type": "categorical"},
                        {"name": "klass", "type": "categorical", "role": "prediction"},
                        {"name": "p", "type": "numerical", "role": "confidence"},
                        {"name": "took_ms", "type": "numerical", "role": "latency"},
                    ],
                }
            ]
        }
    )


def test_records_are_checked_against_monitors_yaml_and_extras_are_kept(tmp_path):
    config = config_for(tmp_path)
    logger = MonitoringLogger("credit", ParquetSink(tmp_path), config=config)
    logger.log({"income": 10.5, "purpose": "car"}, 1, confidence=0.9, latency_ms=3, timestamp=T0)
    logger.log({"income": "lots", "purpose": "car", "colour": "red"}, 0, timestamp=T0, region="eu")
    logger.log({"purpose": "home"}, 1, request_id="r-3", timestamp=T0)
    logger.close()

    status = logger.status()
    assert status.invalid_values == {"income": 1}
    assert status.missing_columns == {"income": 1}
    assert status.extra_columns == {"colour": 1, "region": 1}
    rows = pd.concat(ParquetLogSource(tmp_path, "scored_at").read_window(T0, T0 + HOUR))
    assert {
        "rid",
        "scored_at",
        "income",
        "purpose",
        "klass",
        "p",
        "took_ms",
        "colour",
        "region",
    } <= set(rows.columns)
    assert rows["income"].isna().sum() == 2  # "lots" became missing, and counted above
    assert rows.set_index("rid").loc["r-3", "purpose"] == "home"
    assert rows["region"].tolist().count("eu") == 1


def test_log_label_writes_the_labels_layout(tmp_path):
    logger = MonitoringLogger("credit", ParquetSink(tmp_path / "logs", tmp_path / "labels"))
    rid = logger.log({"income": 1.0}, 1, timestamp=T0)
    logger.log_label(rid, 0, timestamp=T0 + 30 * HOUR)
    logger.close()
    files = list((tmp_path / "labels").glob("date=2026-11-21/hour=16/*.parquet"))
    assert len(files) == 1
    labels = pq.read_table(files[0]).to_pylist()
    assert labels == [
        {
            "deployment_id": "credit",
            "request_id": rid,
            "label": 0,
            "label_timestamp": T0 + 30 * HOUR,
        }
    ]
    no_labels = MonitoringLogger("credit", ParquetSink(tmp_path / "logs"))
    with pytest.raises(ValueError, match="nowhere to write labels"):
        no_labels.log_label(rid, 1)
    no_labels.close()


def test_sink_down_model_keeps_answering_buffer_bounded_overflow_counted_then_delivered(
    tmp_path, model, caplog
):
    # a regular file where the folder should be: writes fail even as root (chmod would not)
    root = tmp_path / "logs"
    root.write_text("not a folder")
    logger = MonitoringLogger(
        "credit",
        ParquetSink(root),
        batch_rows=10,
        max_buffered_rows=50,
        flush_seconds=0.02,
        retry_seconds=0.02,
    )
    wrapped = monitor(model, logger)
    X = applicants(np.random.default_rng(3), 8)[["income", "age"]]
    with caplog.at_level(logging.WARNING, logger="monitoring_pipelines.traffic"):
        answers = [wrapped.predict(X) for _ in range(10)]  # 80 rows for a 50-row buffer
    assert all((a == model.predict(X)).all() for a in answers)
    assert not logger.flush(0.3)
    status = logger.status()
    assert (status.logged, status.buffered, status.dropped, status.delivered) == (80, 50, 30, 0)
    assert status.write_failures >= 1 and "logs" in status.last_error
    assert any("dropping records" in r.getMessage() for r in caplog.records)

    root.unlink()
    assert logger.flush(10)
    logger.close()
    status = logger.status()
    assert (status.delivered, status.buffered, status.dropped) == (50, 0, 30)
    assert len(read_logs(root)) == 50


def test_a_reader_during_writes_never_sees_a_partial_file(tmp_path):
    logger = MonitoringLogger("credit", ParquetSink(tmp_path), batch_rows=2000)
    frame = applicants(np.random.default_rng(4), 2000)
    stop, seen, errors = threading.Event(), [], []

    def read_repeatedly():
        while not stop.is_set():
            try:
                seen.append(len(read_logs(tmp_path, T0, T0 + HOUR)))
            except Exception as error:
                errors.append(error)

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    for _ in range(15):
        logger.log_batch(frame, np.zeros(len(frame)), timestamps=T0)
        assert logger.flush(10)
    stop.set()
    reader.join()
    logger.close()
    assert errors == []
    assert len(seen) > 1 and all(n % 2000 == 0 for n in seen)
    assert len(read_logs(tmp_path, T0, T0 + HOUR)) == 30_000
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".parquet"]


def test_buffered_records_are_flushed_at_exit(tmp_path):
    script = (
        "from datetime import datetime, UTC\n"
        "from monitoring_pipelines.traffic import MonitoringLogger, ParquetSink\n"
        f"logger = MonitoringLogger('credit', ParquetSink({str(tmp_path)!r}), flush_seconds=60)\n"
        "for i in range(5):\n"
        f"    logger.log({{'x': i}}, i, timestamp=datetime({T0.year}, {T0.month}, {T0.day}, "
        f"{T0.hour}, tzinfo=UTC))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert sorted(read_logs(tmp_path)["x"]) == [0, 1, 2, 3, 4]


def test_bad_calls_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="unsafe deployment id 'Credit-V2'"):
        MonitoringLogger("Credit-V2", ParquetSink(tmp_path))
    logger = MonitoringLogger("credit", ParquetSink(tmp_path))
    with pytest.raises(TypeError, match="features must be a mapping"):
        logger.log([1, 2], 1)
    with pytest.raises(ValueError, match=r"tags \['income'\] collide"):
        logger.log({"income": 1.0}, 1, income=2)
    with pytest.raises(ValueError, match="predictions has 1 values for 2 rows"):
        logger.log_batch(pd.DataFrame({"x": [1, 2]}), [1])
    logger.close()
    with pytest.raises(RuntimeError, match="is closed"):
        logger.log({"x": 1}, 1)
    with pytest.raises(ValueError, match="config is for deployment 'credit'"):
        MonitoringLogger("other", ParquetSink(tmp_path), config=config_for(tmp_path).deployments[0])


def test_a_server_passes_its_request_ids_and_times_and_brings_its_own_clock(tmp_path, model):
    ticks = iter([10.0, 10.25, 20.0, 20.5])  # two calls: 250 ms and 500 ms
    logger = MonitoringLogger("credit", ParquetSink(tmp_path))
    wrapped = monitor(model, logger, timer=lambda: next(ticks))
    X = applicants(np.random.default_rng(7), 3)[["income", "age"]]
    stamps = [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
    wrapped.predict(X, request_ids=["a", "b", "c"], timestamps=stamps)
    wrapped.predict_proba(X, timestamps=stamps)
    assert wrapped.last_request_ids != ["a", "b", "c"] and len(wrapped.last_request_ids) == 3
    logger.close()
    rows = read_logs(tmp_path).sort_values(["latency_ms", "timestamp"], ignore_index=True)
    assert rows["latency_ms"].tolist() == [250.0] * 3 + [500.0] * 3
    assert rows["request_id"].tolist()[:3] == ["a", "b", "c"]
    assert [t.to_pydatetime() for t in rows["timestamp"]] == stamps * 2
