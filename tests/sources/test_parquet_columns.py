"""Issue 15, item 3: Parquet row groups go from Arrow straight into the numpy arrays the kernel
counts (``ParquetLogSource.read_columns``), with exactly the profile and the reconstruction
errors of the DataFrame path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitoring_pipelines.sources.parquet import GROUP_BYTES, ParquetLogSource, hour_folder
from monitoring_pipelines.stats.dataset import Columns, fit_baseline, profile_chunks
from monitoring_pipelines.stats.multivariate import fit_reconstruction

HOUR = datetime(2026, 11, 4, 7, tzinfo=UTC)
KINDS = {
    "f": "numerical",
    "i": "numerical",
    "flag": "numerical",
    "text_number": "numerical",
    "s": "categorical",
    "code": "categorical",
    "absent": "numerical",
}


def _table(n: int, rng: np.random.Generator) -> pa.Table:
    f = rng.normal(size=n)
    f[rng.random(n) < 0.05] = np.nan
    stamps = HOUR + pd.to_timedelta(rng.uniform(-600, 4200, n), unit="s")  # some next door
    return pa.table(
        {
            "f": pa.array(f, mask=rng.random(n) < 0.05),  # NaN values and nulls
            "i": pa.array(rng.integers(0, 9, n), mask=rng.random(n) < 0.1),
            "flag": pa.array(rng.random(n) < 0.3),
            "text_number": pa.array([str(v) if v % 7 else "n/a" for v in range(n)]),
            "s": pa.array(rng.choice(["a", "b", "c", "new"], n), mask=rng.random(n) < 0.02),
            "code": pa.array(rng.integers(0, 5, n).astype(np.int32)),
            "ts": pa.array(stamps.floor("us"), type=pa.timestamp("us")),
        }
    )


def _write_hour(root, rng: np.random.Generator) -> None:
    folder = hour_folder(root, HOUR)
    folder.mkdir(parents=True)
    for k in range(2):
        pq.write_table(_table(3000, rng), folder / f"part-{k}.parquet", row_group_size=1000)


@pytest.mark.parametrize("group_bytes", [GROUP_BYTES, 0])
def test_columns_give_the_profile_of_the_dataframe_path(tmp_path, group_bytes) -> None:
    """Row groups read whole (the default bound holds them) or, above ``group_bytes``, in
    record batches of ``chunk_rows``: the same profile as the DataFrame path either way."""
    rng = np.random.default_rng(3)
    _write_hour(tmp_path, rng)
    reference = _table(2000, rng).to_pandas()
    reference["absent"] = 1.0
    baseline = fit_baseline(reference, KINDS, n_bins=10)
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=700, group_bytes=group_bytes)
    wanted = [*KINDS, "ts"]

    frames = list(source.read_window(HOUR, HOUR + timedelta(hours=1), wanted))
    dropped = source.dropped_rows()
    chunks = list(source.read_columns(HOUR, HOUR + timedelta(hours=1), wanted))
    assert source.dropped_rows() == dropped and dropped["rows_misfiled"] > 0  # read next door
    if group_bytes:  # one chunk per row group of 1,000 rows: the kept rows of each
        assert len(chunks) == 6 and all(500 < c.rows <= 1000 for c in chunks)
        assert sum(c.rows for c in chunks) == sum(len(f) for f in frames)
    else:  # every group above the bound: batches of chunk_rows, as the DataFrame path reads
        assert [c.rows for c in chunks] == [len(f) for f in frames]
    assert all(isinstance(c, Columns) for c in chunks)
    for name in ("f", "i", "code"):  # numbers: float64 numpy arrays, no DataFrame around them
        assert all(type(c.values[name]) is np.ndarray for c in chunks)
        assert all(c.values[name].dtype == np.float64 for c in chunks)

    by_frames = profile_chunks(frames, baseline)
    by_columns = profile_chunks(chunks, baseline, threads=2)
    assert by_columns.row_count == by_frames.row_count == sum(len(f) for f in frames)
    assert by_columns.absent_columns == by_frames.absent_columns == ("absent",)
    assert by_columns.extra_columns == by_frames.extra_columns == ("ts",)
    for name in KINDS:
        a, b = by_frames.columns[name], by_columns.columns[name]
        assert (a.missing, a.count, getattr(a, "invalid", 0)) == (
            b.missing,
            b.count,
            getattr(b, "invalid", 0),
        ), name
        if KINDS[name] == "numerical":
            assert np.array_equal(a.counts, b.counts), name
            assert (a.n_finite, a.min, a.max) == (b.n_finite, b.min, b.max) or a.n_finite == 0
            assert np.isclose(a.mean, b.mean, rtol=1e-12, equal_nan=True), name
            assert np.isclose(a.m2, b.m2, rtol=1e-12), name
        else:
            assert a.counts == b.counts and a.other == b.other, name
    assert by_columns.columns["f"].missing > 0 and by_columns.columns["text_number"].invalid > 0


def test_columns_give_the_reconstruction_errors_of_the_dataframe_path(tmp_path) -> None:
    rng = np.random.default_rng(4)
    _write_hour(tmp_path, rng)
    reference = _table(2000, rng).to_pandas()
    kinds = {name: kind for name, kind in KINDS.items() if name != "absent"}
    model, _ = fit_reconstruction(reference, kinds)
    assert {"i", "s", "code", "text_number"} <= set(model.names)  # nulls, strings, integers
    source = ParquetLogSource(tmp_path, "ts", chunk_rows=700, group_bytes=0)  # chunks as frames
    wanted = [*kinds, "ts"]
    frames = list(source.read_window(HOUR, HOUR + timedelta(hours=1), wanted))
    chunks = list(source.read_columns(HOUR, HOUR + timedelta(hours=1), wanted))
    for frame, chunk in zip(frames, chunks, strict=True):
        by_frame = model.errors(frame)
        assert by_frame.shape == (chunk.rows,) and np.isfinite(by_frame).all()
        np.testing.assert_array_equal(model.errors(chunk), by_frame)  # bit for bit
    whole = ParquetLogSource(tmp_path, "ts").read_columns(HOUR, HOUR + timedelta(hours=1), wanted)
    np.testing.assert_array_equal(  # row groups read whole: the same errors, row for row
        np.concatenate([model.errors(chunk) for chunk in whole]),
        np.concatenate([model.errors(frame) for frame in frames]),
    )
    partial = Columns(chunks[0].rows, {n: v for n, v in chunks[0].values.items() if n != "f"})
    np.testing.assert_array_equal(model.errors(partial), model.errors(frames[0].drop(columns="f")))


def test_group_bytes_must_be_a_non_negative_integer(tmp_path) -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="group_bytes"):
            ParquetLogSource(tmp_path, "ts", group_bytes=bad)
