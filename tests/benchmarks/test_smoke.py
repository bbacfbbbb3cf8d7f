"""Each benchmark part at a tiny size, so the scripts keep working as the package changes.

These check that every part runs and reports sane figures, not the speed itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmarks import data, venvs
from benchmarks.backfill import BackfillSizes, backfill
from benchmarks.backfill_data import DEPLOYMENT, write_config, write_deployment
from benchmarks.battery import SHAPES, BatterySizes, battery, draw
from benchmarks.drift_cost import drift_cost
from benchmarks.end_to_end import end_to_end
from benchmarks.fleet_scoring import fleet_scoring
from benchmarks.measure import run_child
from benchmarks.memory import memory_bounded
from benchmarks.peers import CONTENDERS, peers_side_by_side
from benchmarks.run import main
from benchmarks.scaling import scaling_curve
from benchmarks.table import Row, markdown
from benchmarks.throughput import profile_throughput
from monitoring_pipelines.config import load_config
from monitoring_pipelines.sources.parquet import decoded_bytes

SECONDS = re.compile(r"(\d+\.\d+) s")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


@pytest.fixture(scope="module")
def reference(data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(data.parquet(2_000, "reference", data_dir), columns=data.FEATURES)


@pytest.fixture(scope="module")
def production(data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(data.parquet(4_000, "production", data_dir), columns=data.FEATURES)


def test_data_has_the_columns_missing_share_and_cardinalities_asked_for(data_dir, production):
    table = pq.read_table(data.parquet(4_000, "production", data_dir))
    assert table.column_names == [*data.FEATURES, data.TIMESTAMP]
    assert production[data.NUMERICAL].dtypes.eq(np.float64).all()
    missing = production[data.NUMERICAL].isna().to_numpy().mean()
    assert 0.005 < missing < 0.015
    distinct = [production[c].nunique() for c in data.CATEGORICAL]
    assert distinct[:3] == [3, 10, 50] and 150 < distinct[3] <= 200 and distinct[4] <= 1000
    stamps = table.column(data.TIMESTAMP).to_pandas()
    assert stamps.min() >= pd.Timestamp(data.HOUR)
    assert stamps.max() < pd.Timestamp(data.HOUR) + pd.Timedelta(hours=1)


def test_data_is_written_once_and_reused(data_dir):
    path = data.parquet(4_000, "production", data_dir)
    stamp = path.stat().st_mtime_ns
    assert data.parquet(4_000, "production", data_dir).stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="'reference' or 'production'"):
        data.parquet(10, "training", data_dir)


def data_sizes() -> list[tuple[int, str]]:
    return [(2_000, "reference"), (4_000, "production")]


def _seconds(row: Row) -> float:
    return float(SECONDS.search(row.figure).group(1))


def test_throughput_reports_ours_and_both_numpy_baselines(reference, production):
    rows = profile_throughput(reference, production, repeats=1)
    assert len(rows) == 3
    assert all(_seconds(row) > 0 for row in rows)
    assert rows[1].met is not None and rows[1].target == "≥ 0.5×"


def test_peers_report_ours_and_mark_missing_peers_as_not_met(data_dir):
    reference, production = (data.parquet(n, k, data_dir) for n, k in data_sizes())
    rows = peers_side_by_side(reference, production, {}, 4_000)
    assert rows[0].what.startswith("ours") and _seconds(rows[0]) > 0
    missing = rows[1:]
    assert len(missing) == len(CONTENDERS)
    assert all(row.figure == "not installed" and row.met is False for row in missing)


@pytest.mark.slow
@pytest.mark.parametrize("peer", CONTENDERS, ids=lambda peer: peer.label)
def test_each_installed_peer_job_runs_on_tiny_data(data_dir, peer):
    if not venvs.installed(peer.venv):
        pytest.skip(f"{peer.venv} venv not created (python -m benchmarks.run creates it)")
    paths = [str(data.parquet(n, k, data_dir)) for n, k in data_sizes()]
    run = run_child(peer.module, [*paths, *peer.args], str(venvs.python_of(peer.venv)))
    assert run.report["seconds"] > 0
    assert run.report["work_peak_mb"] >= run.report["rss_loaded_mb"] - 1


def test_child_measurement_separates_the_loading_peak_from_the_work_peak():
    run = run_child("benchmarks.jobs.allocate", ["400", "100"])
    report = run.report
    assert report["load_peak_mb"] >= report["rss_loaded_mb"] + 380
    assert report["rss_loaded_mb"] + 90 <= report["work_peak_mb"] < report["load_peak_mb"] - 250
    assert run.peak_rss_mb == report["load_peak_mb"]


def test_memory_part_streams_every_row_and_compares_peaks(data_dir, reference):
    ref_path = data.parquet(2_000, "reference", data_dir)
    roots = {n: data.log_root(n, "production", data_dir) for n in (4_000, 12_000)}
    for n in roots:
        data.parquet(n, "production", data_dir)
    one_group = data.one_group(12_000, data_dir)
    assert pq.read_metadata(next(one_group.rglob("*.parquet"))).num_row_groups == 1
    rows = memory_bounded(ref_path, roots, chunk_rows=1_000, one_group=one_group)
    assert len(rows) == 10 and all(row.met is not None for row in rows[3:5] + rows[8:])
    assert [row.what for row in rows[3:5]] == [
        "peak memory, 12,000 rows vs 4,000 rows",
        "peak memory, 12,000 rows in one row group vs 4,000 rows",
    ]
    # frames: batches of chunk_rows; columns: each row group whole (one per file here)
    assert "4 chunks, largest 1,000 rows" in rows[0].figure
    assert "12 chunks, largest 1,000 rows" in rows[1].figure
    assert "12 chunks, largest 1,000 rows" in rows[2].figure
    assert "1 chunk, largest 4,000 rows" in rows[5].figure
    assert "1 chunk, largest 12,000 rows" in rows[6].figure
    assert "1 chunk, largest 12,000 rows" in rows[7].figure
    group = pq.read_metadata(data.parquet(12_000, "production", data_dir)).row_group(0)
    decoded = decoded_bytes(group, [*data.FEATURES, data.TIMESTAMP])
    assert decoded >= 12_000 * (8 * 21 + 4 * 5)  # float64 and timestamps, dictionary indices
    assert f"(row groups of 12,000 rows, {decoded / 1e6:,.0f} MB decoded)" in rows[6].what
    assert rows[5].what.startswith("4,000 rows (row groups of 4,000 rows,")


def test_memory_part_reads_row_groups_above_group_bytes_in_batches(data_dir):
    ref_path = data.parquet(2_000, "reference", data_dir)
    roots = {n: data.log_root(n, "production", data_dir) for n in (4_000, 12_000)}
    for n in roots:
        data.parquet(n, "production", data_dir)
    rows = memory_bounded(ref_path, roots, chunk_rows=1_000, group_bytes=0)
    assert len(rows) == 6 and "read_columns: row groups of ≤ 0 MiB" in rows[3].part
    assert "4 chunks, largest 1,000 rows" in rows[3].figure
    assert "12 chunks, largest 1,000 rows" in rows[4].figure


@pytest.mark.postgres
def test_end_to_end_reads_profiles_and_writes_from_both_sources(data_dir, reference, postgres_url):
    path = data.parquet(4_000, "production", data_dir)
    root = data.log_root(4_000, "production", data_dir)
    rows = end_to_end(reference, path, root, chunk_rows=1_000, url=postgres_url)
    assert [row.what for row in rows[:2]] == [
        "Parquet (ParquetLogSource): 4,000 rows",
        "PostgreSQL table (SqlLogSource): 4,000 rows",
    ]
    assert rows[2].what.startswith("PostgreSQL table profiled in the database")
    assert "same counts as reading the rows" in rows[2].figure and rows[2].met is not None
    assert rows[3].what.startswith("Parquet row groups straight into numpy arrays")
    assert "same counts as the DataFrame path" in rows[3].figure and rows[3].met is not None


def test_scaling_reports_each_size_the_slope_and_the_bins(reference, production):
    rows = scaling_curve(reference, production, (500, 1_000, 4_000), (10, 100), 1_000, 1)
    assert [row.what for row in rows[:3]] == ["500 rows", "1,000 rows", "4,000 rows"]
    assert "slope" in rows[3].what and "1,000 → 4,000" in rows[3].what
    assert rows[-1].what == "bins 10…100: slowest / fastest"


def test_markdown_marks_missed_targets():
    text = markdown([Row("p", "w", "1 s", "2×", "≥ 3×", False), Row("p", "x", "2 s")])
    lines = text.splitlines()
    assert lines[0] == "| Part | Measurement | Figure | Ratio | Target | Met |"
    assert lines[2].endswith("| ≥ 3× | **no** |") and lines[3].endswith("|  |  |  |")


def test_markdown_escapes_pipes_in_cells():
    line = markdown([Row("p", "key model_a|2025-01-01-00:00", "1 s")]).splitlines()[2]
    assert line == "| p | key model_a\\|2025-01-01-00:00 | 1 s |  |  |  |"
    assert len(line.replace("\\|", "").split("|")) == 8


def test_run_writes_the_table_it_prints(tmp_path, capsys):
    output = tmp_path / "results.md"
    main(["--quick", "--parts", "1,7", "--data-dir", str(tmp_path), "--output", str(output)])
    text = output.read_text()
    assert text in capsys.readouterr().out
    assert "| 1 throughput (5,000 rows × 25 cols) | ours: profile_frame |" in text
    assert "| 7 scaling | 10,000 rows |" in text


def test_run_rejects_unknown_parts():
    with pytest.raises(SystemExit):
        main(["--parts", "1,99"])


@pytest.mark.slow
def test_backfill_runs_one_run_and_per_hour_runs_and_splits_the_time(data_dir):
    sizes = BackfillSizes(
        days=1, rows_per_hour=50, reference_rows=1_000, sample_hours=2, launched_hours=1
    )
    rows = backfill(sizes, data_dir)
    assert [row.met is not None for row in rows] == [True, False, False, False, True, True, False]
    assert "single-run backfill of 24 hours, as shipped" in rows[0].what
    assert ".without_checks()" in rows[1].what
    in_process, launched = rows[2:4], rows[4:6]
    assert all("2 consecutive hours" in row.what and "mean × 24" in row.what for row in in_process)
    assert all("lower bound" in row.ratio for row in in_process)
    assert "dagster asset materialize" in launched[0].what
    assert "dagster job execute" in launched[1].what
    per_run = [float(re.search(r"(\d+\.\d+) s/run", row.figure).group(1)) for row in rows[2:6]]
    for row, seconds in zip(rows[2:6], per_run, strict=True):
        extrapolated = float(re.search(r"→ (\d+) s", row.figure).group(1))
        assert extrapolated == pytest.approx(seconds * 24, abs=1.0)
    assert per_run[2] > per_run[0]  # a fresh process loads the code location before any work
    assert all(phase in rows[6].figure for phase in ("read", "GE", "profile", "write", "drift"))


def test_backfill_data_lays_out_every_hour_and_a_valid_config(data_dir):
    folder = write_deployment(1, 30, 500, data_dir)
    files = sorted(folder.glob("logs/date=*/hour=*/part-0.parquet"))
    assert len(files) == 24
    table = pq.read_table(files[5])
    stamps = table.column("scored_at").to_pandas()
    assert table.num_rows == 30 and stamps.dt.hour.eq(5).all()
    config = load_config(write_config(folder, quality_checks=False))
    assert not config.defaults.quality_checks
    assert len(config.deployment(DEPLOYMENT).monitored) == 22


def test_drift_cost_scores_every_deployment_and_the_sensor_judges_every_row(tmp_path):
    rows = drift_cost(tmp_path, deployments=3, reference_rows=1_000, window_rows=600)
    assert len(rows) == 4
    results = int(re.search(r"for ([\d,]+) results", rows[0].figure).group(1).replace(",", ""))
    assert results == 3 * (40 * 4 + 10 * 3)  # default metrics: numerical 4, categorical 3
    assert rows[1].met is not None and rows[3].met is not None
    # 4 windows per hour as shipped; the sensor judges the hourly ones
    assert f"all {results * 4:,} new rows ({results:,} hourly)" in rows[3].what
    assert rows[3].figure.startswith("1 tick,")


def test_fleet_scoring_compares_both_paths_and_finds_the_same_rows(tmp_path):
    rows = fleet_scoring(tmp_path, deployments=3, repeats=1)
    assert rows[0].what == "machine facts"
    assert "np.sort of 1M float64" in rows[0].figure
    assert f"for {3 * (40 * 4 + 10 * 3) * 4:,} results" in rows[1].figure  # 4 windows each
    assert "results equal: yes" in rows[2].ratio and rows[2].met is not None


def test_battery_shapes_are_what_their_names_say():
    rng = np.random.default_rng(0)
    values = {shape: draw(shape, rng, 50_000) for shape in SHAPES}
    assert all(0.005 < np.isnan(v).mean() < 0.015 for v in values.values())
    finite = {shape: v[~np.isnan(v)] for shape, v in values.items()}
    assert np.unique(finite["discrete, 5 values"]).tolist() == [0, 1, 2, 3, 4]
    assert 0.89 < (finite["90% zero-inflated"] == 0).mean() < 0.91
    assert finite["lognormal σ=2"].min() > 0 and np.median(np.log(finite["lognormal σ=2"])) < 0.05
    assert np.abs(finite["t(2)"]).max() > 20 * np.abs(finite["normal"]).max()
    with pytest.raises(ValueError, match="unknown shape 'cauchy'"):
        draw("cauchy", rng, 10)


def test_battery_reports_machine_facts_and_every_shape_and_cardinality():
    rows = battery(BatterySizes(window=3_000, reference=1_000, repeats=1))
    facts = rows[0].figure
    assert "cores" in facts and "np.sort of 1M float64" in facts and "numba" in facts
    assert "from the on-disk cache" in rows[1].figure and rows[1].met is not None
    numerical = [row for row in rows if "numerical)" in row.part]
    categorical = [row for row in rows if "categorical)" in row.part]
    assert len(numerical) == 3 * len(SHAPES) and len(categorical) == 3 * 3
    assert all(row.met is not None for row in numerical)
    # a 3,000-row window can round to 0.000 s: the figure must parse, not be positive
    assert all(_seconds(row) >= 0 and "values/s" in row.figure for row in numerical + categorical)
    assert "100,000 categories" in categorical[-1].part


@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_the_checked_backfill_part_runs_on_each_storage(data_dir, storage):
    from benchmarks.split_backfill import split_backfill

    (row,) = split_backfill(1, 200, [1], [storage], 2_000, data_dir)
    assert row.part.startswith("11 backfill with checks (24 hours")
    assert f"{storage} instance, one run, 1 process(es); 96 check results" in row.what
    assert float(SECONDS.search(row.figure).group(1)) > 0 and "CPU" in row.figure
    assert row.met is None  # the target is for a month
