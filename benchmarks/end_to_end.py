"""Part 4: one hour end to end, read → profile → write, from Parquet and from PostgreSQL.

The hour is read through the project's log sources, profiled chunk by chunk and
written with ``write_profile`` into a benchmark database on the local PostgreSQL,
with each phase timed separately so the next bottleneck is visible. The PostgreSQL hour
is also profiled inside the database (``SqlLogSource.profile_window``, the push-down the
pipeline uses when a run does not validate raw rows), timed against reading its rows in
the same process and checked to give the same profile.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from benchmarks.data import CATEGORICAL, FEATURES, HOUR, KINDS, NUMERICAL, TIMESTAMP
from benchmarks.table import Row, best_of
from monitoring_pipelines.pipeline.aggregation import profile_threads
from monitoring_pipelines.sources.base import LogSource
from monitoring_pipelines.sources.parquet import ParquetLogSource
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.dataset import (
    DatasetProfile,
    empty_like,
    fit_baseline,
    profile_chunks,
    profile_frame,
)
from monitoring_pipelines.store.aggregates import write_profile
from monitoring_pipelines.store.engine import get_engine

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/monitoring_bench"
LOG_TABLE = "bench_scoring_logs"
DEPLOYMENT = "bench_e2e"


@dataclass(frozen=True)
class Phases:
    """Seconds spent reading, profiling and writing one hour."""

    read: float
    profile: float
    write: float
    rows: int


def ensure_database(url: str = DATABASE_URL) -> None:
    """Create the benchmark database on the server when it does not exist."""
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def load_log_table(parquet_path: Path, url: str = DATABASE_URL) -> None:
    """Copy the hour's Parquet rows into the log table, unless it already holds them, indexed
    on the timestamp as the README asks of a log table (each time slice of the push-down
    then reads its own rows only)."""
    table = pq.read_table(parquet_path, columns=[*FEATURES, TIMESTAMP])
    engine = create_engine(url)
    index = f"CREATE INDEX IF NOT EXISTS {LOG_TABLE}_{TIMESTAMP} ON {LOG_TABLE} ({TIMESTAMP})"
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": LOG_TABLE}).scalar()
        if exists and conn.execute(text(f"SELECT count(*) FROM {LOG_TABLE}")).scalar() == len(
            table
        ):
            conn.execute(text(index))
            return
        conn.execute(text(f"DROP TABLE IF EXISTS {LOG_TABLE}"))
        columns = [f"{n} double precision" for n in NUMERICAL] + [f"{c} text" for c in CATEGORICAL]
        conn.execute(
            text(f"CREATE TABLE {LOG_TABLE} ({', '.join(columns)}, {TIMESTAMP} timestamptz)")
        )
        for name in NUMERICAL:
            column = table.column(name)
            table = table.set_column(
                table.schema.get_field_index(name),
                name,
                pc.if_else(pc.is_nan(column), pa.scalar(None, pa.float64()), column),
            )
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        cursor = conn.connection.dbapi_connection.cursor()
        names = ", ".join(table.column_names)
        with cursor.copy(f"COPY {LOG_TABLE} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        conn.execute(text(index))
        conn.execute(text(f"ANALYZE {LOG_TABLE}"))
    engine.dispose()


def run_hour(
    source: LogSource, baseline: DatasetProfile, url: str = DATABASE_URL
) -> tuple[Phases, DatasetProfile]:
    """Read, profile and write one hour, timing each phase."""
    chunks: Iterator[pd.DataFrame] = source.read_window(HOUR, HOUR + timedelta(hours=1), FEATURES)
    profile = empty_like(baseline)
    read = work = 0.0
    while True:
        start = time.perf_counter()
        chunk = next(chunks, None)
        read += time.perf_counter() - start
        if chunk is None:
            break
        start = time.perf_counter()
        profile = profile.merge(profile_frame(chunk, baseline))
        work += time.perf_counter() - start
    engine = get_engine(url)
    start = time.perf_counter()
    write_profile(
        engine, DEPLOYMENT, HOUR, profile, is_baseline=False, window_end=HOUR + timedelta(hours=1)
    )
    return Phases(read, work, time.perf_counter() - start, profile.row_count), profile


PUSHDOWN_TARGET_SECONDS = 1.5


class BackendCpu:
    """CPU seconds the PostgreSQL backends of ``engine``'s connections spent (``/proc``, the
    server is local), so a figure measured on a loaded machine says how much of its wall
    time was work: the backends' own CPU, not that of parallel workers they start."""

    def __init__(self, engine: Engine):
        self.pids: set[int] = set()
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection, record, proxy) -> None:
        if "backend_pid" not in record.info:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            record.info["backend_pid"] = cursor.fetchone()[0]
            cursor.close()
        self.pids.add(record.info["backend_pid"])

    def seconds(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def pushdown_hour(
    source: SqlLogSource,
    baseline: DatasetProfile,
    reference: DatasetProfile,
    read_total: float,
    url: str = DATABASE_URL,
) -> Row:
    """The PostgreSQL hour profiled in the database (best of two), then written."""
    end = HOUR + timedelta(hours=1)
    seconds, cpu = [], []
    backends = BackendCpu(source.engine)
    source.profile_window(HOUR, end, baseline)  # every connection checked out once
    for _ in range(2):
        before, start = backends.seconds(), time.perf_counter()
        profile = source.profile_window(HOUR, end, baseline)
        seconds.append(time.perf_counter() - start)
        cpu.append(backends.seconds() - before)
    if not _same_counts(profile, reference):
        raise AssertionError("push-down profile differs from the row-reading path's")
    start = time.perf_counter()
    write_profile(get_engine(url), DEPLOYMENT, HOUR, profile, is_baseline=False, window_end=end)
    write = time.perf_counter() - start
    total = best_of(seconds) + write
    return Row(
        "4 end-to-end hour (chunks of 100,000 rows)",
        f"PostgreSQL table profiled in the database (SqlLogSource.profile_window: grouping "
        f"sets over width_bucket and values, {source.pushdown_workers} time slices at once, "
        f"two-pass moments): {profile.row_count:,} rows",
        f"in database {best_of(seconds):.2f} s (runs: {', '.join(f'{s:.2f}' for s in seconds)}; "
        f"backend CPU {', '.join(f'{c:.2f}' for c in cpu)} s, load average "
        f"{os.getloadavg()[0]:.1f}), write {write:.3f} s; total {total:.2f} s; same counts as "
        "reading the rows",
        f"{read_total / total:.1f}× faster than reading and profiling the rows",
        f"< {PUSHDOWN_TARGET_SECONDS} s",
        total < PUSHDOWN_TARGET_SECONDS,
    )


COLUMNS_TARGET_SECONDS = 0.15


def parquet_columns_hour(
    source: ParquetLogSource, baseline: DatasetProfile, repeats: int = 5
) -> Row:
    """The Parquet hour read and profiled as the pipeline does without raw-row checks
    (``read_columns``: Arrow straight into numpy arrays, no DataFrame; columns profiled on
    ``profile_threads()`` threads), against the DataFrame path, repeats interleaved."""
    end = HOUR + timedelta(hours=1)
    threads = profile_threads()
    seconds: dict[str, list[float]] = {"columns": [], "frames": []}
    profiles: dict[str, DatasetProfile] = {}
    for _ in range(repeats):
        for way, read in (("columns", source.read_columns), ("frames", source.read_window)):
            start = time.perf_counter()
            profiles[way] = profile_chunks(read(HOUR, end, FEATURES), baseline, threads=threads)
            seconds[way].append(time.perf_counter() - start)
    if not _same_counts(profiles["columns"], profiles["frames"]):
        raise AssertionError("the array path's profile differs from the DataFrame path's")
    best, frames = best_of(seconds["columns"]), best_of(seconds["frames"])
    profile = profiles["columns"]
    return Row(
        f"4 end-to-end hour (chunks of {source.chunk_rows:,} rows)",
        f"Parquet row groups straight into numpy arrays (read_columns → profile_chunks, "
        f"{threads} threads, no DataFrame), read + profile: {profile.row_count:,} rows, "
        f"best of {repeats}",
        f"{best:.3f} s (runs: {', '.join(f'{s:.2f}' for s in seconds['columns'])}); same "
        "counts as the DataFrame path",
        f"{frames / best:.2f}× the DataFrame path ({frames:.3f} s)",
        f"≤ {COLUMNS_TARGET_SECONDS} s",
        best <= COLUMNS_TARGET_SECONDS,
    )


def _same_counts(a: DatasetProfile, b: DatasetProfile) -> bool:
    """Every count of two profiles equal (moments are checked to 1e-9 in the tests). A
    categorical column folded beyond its cap is compared on its total only: the row path caps
    each chunk before merging, which depends on the chunks until caps are order-free."""
    if a.row_count != b.row_count:
        return False
    for name, x in b.columns.items():
        y = a.columns[name]
        if hasattr(x, "edges"):
            if not np.array_equal(x.counts, y.counts) or (x.missing, x.n_finite) != (
                y.missing,
                y.n_finite,
            ):
                return False
        elif x.other or y.other:
            if (x.count, x.missing) != (y.count, y.missing):
                return False
        elif (x.counts, x.missing) != (y.counts, y.missing):
            return False
    return True


def end_to_end(
    reference: pd.DataFrame,
    parquet_path: Path,
    log_root: Path,
    chunk_rows: int,
    url: str = DATABASE_URL,
) -> list[Row]:
    """One row per source with the read / profile / write split; ``url`` holds logs and store."""
    ensure_database(url)
    load_log_table(parquet_path, url)
    baseline = fit_baseline(reference, KINDS)
    sources = {
        "Parquet (ParquetLogSource)": ParquetLogSource(log_root, TIMESTAMP, chunk_rows),
        "PostgreSQL table (SqlLogSource)": SqlLogSource(
            url, LOG_TABLE, TIMESTAMP, chunk_rows=chunk_rows
        ),
    }
    table = []
    for label, source in sources.items():
        phases, profile = run_hour(source, baseline, url)
        total = phases.read + phases.profile + phases.write
        if isinstance(source, SqlLogSource):
            sql_total, sql_profile, sql_source = total, profile, source
        table.append(
            Row(
                f"4 end-to-end hour (chunks of {chunk_rows:,} rows)",
                f"{label}: {phases.rows:,} rows",
                f"read {phases.read:.2f} s, profile {phases.profile:.2f} s, "
                f"write {phases.write:.3f} s; total {total:.2f} s "
                f"({phases.rows / total / 1e6:.2f} M rows/s)",
                f"read is {phases.read / total:.0%} of the total",
            )
        )
    table.append(pushdown_hour(sql_source, baseline, sql_profile, sql_total, url))
    table.append(parquet_columns_hour(sources["Parquet (ParquetLogSource)"], baseline))
    return table
