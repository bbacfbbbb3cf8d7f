"""The work behind each asset, as plain functions: usable from Dagster, notebooks and benchmarks.

Each function reads through ``sources``, computes with ``stats`` and writes with
``store``; Dagster code only resolves resources, calls these, and reports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from monitoring_pipelines.config import (
    DeploymentConfig,
    KafkaLogs,
    MonitorsConfig,
    ParquetLogs,
    Role,
)
from monitoring_pipelines.pipeline.baseline_performance import fit_baseline_performance
from monitoring_pipelines.pipeline.drift import calibrate_baseline
from monitoring_pipelines.pipeline.freshness import hours_freshness
from monitoring_pipelines.pipeline.multivariate import fit_multivariate
from monitoring_pipelines.quality import BatchValidator, CheckOutcome
from monitoring_pipelines.sources.base import BadLogFileError, LogSource, read_reference
from monitoring_pipelines.sources.kafka import kafka_log_source
from monitoring_pipelines.sources.parquet import ParquetLogSource
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.dataset import DatasetProfile, fit_baseline, profile_chunks
from monitoring_pipelines.stats.duplicates import DuplicateCounter
from monitoring_pipelines.stats.freshness import Freshness, FreshnessPolicy
from monitoring_pipelines.stats.multivariate import ReconstructionModel
from monitoring_pipelines.stats.segmented import Folding, profile_segmented_chunks
from monitoring_pipelines.store.aggregates import read_baseline, write_profile
from monitoring_pipelines.store.engine import checked_url, ensure_deployment_views
from monitoring_pipelines.store.multivariate import read_model, write_model

HOUR = timedelta(hours=1)
PROFILE_THREADS_ENV = "MONITORING_PROFILE_THREADS"


def profile_threads() -> int:
    """``$MONITORING_PROFILE_THREADS``: threads that profile a chunk's columns (at least 1),
    the machine's cores when unset; set 1 when many runs share the cores (backfills)."""
    raw = os.environ.get(PROFILE_THREADS_ENV, "").strip()
    if not raw:
        return os.cpu_count() or 1
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{PROFILE_THREADS_ENV}={raw!r}: expected a whole number >= 1")
    return int(raw)


class MissingBaselineError(RuntimeError):
    """Production windows are counted on the baseline's edges, so the baseline must come first."""


class WindowsFailedError(RuntimeError):
    """Some windows of a run could not be read; every other window was profiled and stored.

    ``summaries`` are the stored windows (to report), ``failures`` the failed ones with why.
    """

    def __init__(self, summaries: list[WindowSummary], failures: dict[tuple[str, datetime], str]):
        listed = "; ".join(
            f"{deployment_id} {start:%Y-%m-%d %H:00}: {reason}"
            for (deployment_id, start), reason in failures.items()
        )
        super().__init__(
            f"{len(failures)} of {len(failures) + len(summaries)} hour(s) failed "
            f"(the others are stored): {listed}"
        )
        self.summaries = summaries
        self.failures = failures


@dataclass(frozen=True)
class WindowSummary:
    """What one profiled window looked like, for logs, metadata and the demo's table."""

    deployment_id: str
    start: datetime
    end: datetime
    profile: DatasetProfile
    quality: tuple[CheckOutcome, ...] = ()
    freshness: Freshness | None = None
    # rows read but not profiled as read: dropped (``rows_out_of_window``,
    # ``rows_null_timestamp``) or repeated (``duplicate_request_ids``); a count the
    # source cannot tell is left out
    accounted: Mapping[str, int] = field(default_factory=dict)
    # where the hour was profiled: "database" (``LogSource.profile_window``) or "rows" (read);
    # why a source that can profile in the database did not (else None)
    profiled_in: str = "rows"
    pushdown_skipped: str | None = None
    segment_rows: Mapping[str, int] = field(default_factory=dict)  # segment → rows
    folding: tuple[Folding, ...] = ()  # what each segment key's cap folded

    @property
    def segment_notices(self) -> list[str]:
        """A line per segment key whose cap folded values into ``__other__``."""
        return [f.notice for f in self.folding if f.notice]

    @property
    def rows(self) -> int:
        return self.profile.row_count

    @property
    def replaced_values(self) -> int:
        """Category values counted under their U+FFFD spelling (NUL, surrogates)."""
        return sum(getattr(p, "replaced", 0) for p in self.profile.columns.values())


def log_source(config: MonitorsConfig, deployment: DeploymentConfig) -> LogSource:
    """The scoring-log reader a deployment's ``logs`` block describes."""
    chunk_rows = config.defaults.chunk_rows
    logs = deployment.logs
    if isinstance(logs, ParquetLogs):
        return ParquetLogSource(logs.path, logs.timestamp_column, chunk_rows=chunk_rows)
    if isinstance(logs, KafkaLogs):
        return kafka_log_source(config, deployment)
    url = os.environ.get(logs.url_env)
    if not url:
        raise RuntimeError(
            f"deployment {deployment.id!r}: logs.url_env names {logs.url_env}, which is not set"
        )
    return SqlLogSource(
        checked_url(url, logs.url_env),
        logs.table,
        logs.timestamp_column,
        logs.deployment_column,
        deployment.id if logs.deployment_column else None,
        chunk_rows=chunk_rows,
        pushdown=logs.pushdown,
        pushdown_workers=logs.pushdown_workers,
    )


def compute_baseline(
    config: MonitorsConfig, deployment: DeploymentConfig, engine: Engine
) -> DatasetProfile:
    """Profile the reference data (fitting bin edges and categories, and the reconstruction
    model of multivariate drift) and store it, with the baseline performance of the
    validation set when one is declared (the same version)."""
    version = datetime.now(UTC)
    frame = read_reference(deployment.reference.path)
    n_bins = config.setting(deployment, "n_bins")
    profile = fit_baseline(
        frame,
        deployment.monitored,
        n_bins=n_bins,
        max_categories=config.setting(deployment, "max_categories"),
    )
    profile, model, reason = fit_multivariate(deployment, frame, profile, n_bins)
    segments = None
    if deployment.segment_keys:  # each segment's reference rows, on the population's edges
        segments = profile_segmented_chunks([frame], profile, deployment.segment_keys).segments
    write_profile(
        engine,
        deployment.id,
        version,
        profile,
        is_baseline=True,
        response_columns=deployment.response_columns,
        segments=segments,
    )
    write_model(engine, deployment.id, model, reason)
    calibrate_baseline(deployment, engine, frame, profile)
    fit_baseline_performance(deployment, engine, version)
    ensure_deployment_views(engine, [deployment.id])
    return profile


def aggregate_window(
    deployment: DeploymentConfig,
    engine: Engine,
    source: LogSource,
    start: datetime,
    end: datetime,
    baseline: DatasetProfile | None = None,
    validator: BatchValidator | None = None,
    model: ReconstructionModel | None = None,
) -> WindowSummary:
    """Profile one window of scoring logs on the baseline's edges and replace its stored rows.

    With a ``validator``, every chunk is also kept for the baseline's expectations (the
    window's outcomes are ``validator.outcomes(start)``, once the validator has seen every
    window of its batch); without one, a source that can profile the window itself (a
    PostgreSQL table, see ``sources.sql_pushdown``) does, and no row is read, unless the
    deployment has segments or a multivariate model (both need each row): then the rows
    are read and the summary says why (``pushdown_skipped``). ``model`` (read with the
    baseline when that is not given) gives each read row's reconstruction error.
    """
    if baseline is None:
        baseline, model = read_baseline(engine, deployment.id), read_model(engine, deployment.id)[0]
    if baseline is None:
        raise MissingBaselineError(
            f"deployment {deployment.id!r} has no baseline_statistics yet: materialize it first"
        )
    keys = deployment.segment_keys
    request_id = deployment.column_with_role(Role.REQUEST_ID)
    multivariate = model is not None and baseline.multivariate is not None
    skipped = pushdown_skipped(source, validator is not None, bool(keys), multivariate)
    profile = None
    if source.pushes_down() and not skipped:
        profile = source.profile_window(
            start, end, baseline, request_id.name if request_id else None
        )
    pushed = profile is not None
    accounted: dict[str, int] = {}
    segmented = None
    if pushed:
        accounted = source.dropped_rows()
    else:
        columns = [*deployment.monitored, deployment.logs.timestamp_column]
        columns += sorted({c for key in keys for c in key.columns} - set(columns))
        counter = None
        if request_id is not None:
            counter = DuplicateCounter(request_id.name)
            columns.append(request_id.name)
        errors = model.errors if model is not None else None
        if validator is None and not keys:  # the checks and the segmented profiler read frames
            chunks = source.read_columns(start, end, columns)  # only profiled: no DataFrame
        else:
            chunks = source.read_window(start, end, columns)
        if counter is not None:
            chunks = counter.observe(chunks)
        if validator is not None:
            chunks = validator.observe(start, chunks)
        if keys:
            segmented = profile_segmented_chunks(
                chunks, baseline, keys, threads=profile_threads(), errors=errors
            )
            profile = segmented.population
        else:
            profile = profile_chunks(chunks, baseline, threads=profile_threads(), errors=errors)
        accounted = source.dropped_rows()
        if counter is not None:
            accounted["duplicate_request_ids"] = counter.duplicates()
    stored = write_profile(
        engine,
        deployment.id,
        start,
        profile,
        is_baseline=False,
        window_end=end,
        response_columns=deployment.response_columns,
        accounted=accounted,
        log_files=source.log_files(start, end),
        segments=segmented and segmented.segments,
        unstamped_total=source.unstamped_rows(),
    )
    accounted = {name: n for name, n in stored.items() if n is not None}
    return WindowSummary(
        deployment.id,
        start,
        end,
        profile,
        accounted=accounted,
        profiled_in="database" if pushed else "rows",
        pushdown_skipped=skipped,
        segment_rows={n: p.row_count for n, p in segmented.segments.items()} if segmented else {},
        folding=segmented.folding if segmented else (),
    )


def pushdown_skipped(
    source: LogSource, validating: bool, segmented: bool, multivariate: bool
) -> str | None:
    """Why a source that can profile a window where its rows live must read them instead
    (None when it profiles in place, or cannot anyway): the great-expectations checks, the
    segments and the reconstruction errors of multivariate drift all need each row."""
    if not source.pushes_down():
        return None
    reasons = [
        reason
        for needed, reason in (
            (validating, "the great-expectations checks validate the raw rows"),
            (segmented, "segments are profiled row by row"),
            (multivariate, "multivariate drift needs each row's reconstruction error"),
        )
        if needed
    ]
    return "; ".join(reasons) or None


def aggregate_windows(
    config: MonitorsConfig,
    engine: Engine,
    windows: list[tuple[str, datetime]],
    progress: Callable[[int, int, WindowSummary], None] = lambda i, n, s: None,
    validate: bool = False,
) -> list[WindowSummary]:
    """Profile many hourly windows (a backfill) in one pass, reading each baseline once.

    A window with an unreadable log file is skipped (its stored rows stay as they were) and
    the others are profiled; then :class:`WindowsFailedError` lists the failed windows.
    """
    summaries, failures = profile_windows(config, engine, windows, progress, validate)
    return judged(engine, config, windows, summaries, failures)


def judged(
    engine: Engine,
    config: MonitorsConfig,
    windows: list[tuple[str, datetime]],
    summaries: list[WindowSummary],
    failures: dict[tuple[str, datetime], str],
) -> list[WindowSummary]:
    """The stored windows with their freshness, or WindowsFailedError naming the failed ones."""
    ids = dict.fromkeys(deployment_id for deployment_id, _ in windows)
    policies = {d: config.freshness_policy(config.deployment(d)) for d in ids}
    summaries = with_freshness(engine, summaries, policies)
    if failures:
        raise WindowsFailedError(summaries, failures)
    return summaries


def profile_windows(
    config: MonitorsConfig,
    engine: Engine,
    windows: list[tuple[str, datetime]],
    progress: Callable[[int, int, WindowSummary], None] = lambda i, n, s: None,
    validate: bool = False,
) -> tuple[list[WindowSummary], dict[tuple[str, datetime], str]]:
    """Profile and store the windows in order; those whose log file is unreadable are
    returned apart with the error (freshness not judged yet). With ``validate``, each
    deployment's hours are validated in batches (``BatchValidator``) and every summary
    carries its own hour's outcomes."""
    baselines: dict[str, DatasetProfile | None] = {}
    sources: dict[str, LogSource] = {}
    validators: dict[str, BatchValidator | None] = {}
    models: dict[str, ReconstructionModel | None] = {}
    summaries = []
    failures: dict[tuple[str, datetime], str] = {}
    for index, (deployment_id, start) in enumerate(windows, start=1):
        deployment = config.deployment(deployment_id)
        if deployment_id not in baselines:
            baseline = baselines[deployment_id] = read_baseline(engine, deployment_id)
            models[deployment_id] = read_model(engine, deployment_id)[0]
            sources[deployment_id] = log_source(config, deployment)
            validators[deployment_id] = (
                BatchValidator(deployment_id, baseline) if validate and baseline else None
            )
        try:
            summary = aggregate_window(
                deployment,
                engine,
                sources[deployment_id],
                start,
                start + HOUR,
                baselines[deployment_id],
                validators[deployment_id],
                models[deployment_id],
            )
        except BadLogFileError as error:
            failures[(deployment_id, start)] = str(error)
            if validators[deployment_id] is not None:
                validators[deployment_id].discard(start)
            continue
        summaries.append(summary)
        progress(index, len(windows), summary)
    summaries = [
        replace(s, quality=tuple(validator.outcomes(s.start)))
        if (validator := validators[s.deployment_id]) is not None
        else s
        for s in summaries
    ]
    return summaries, failures


def with_freshness(
    engine: Engine, summaries: list[WindowSummary], policies: Mapping[str, FreshnessPolicy]
) -> list[WindowSummary]:
    """The summaries with each hour's freshness, judged once all of them are stored."""
    judged: dict[tuple[str, datetime], Freshness] = {}
    for deployment_id, policy in policies.items():
        hours = [s.start for s in summaries if s.deployment_id == deployment_id]
        for hour, freshness in hours_freshness(engine, deployment_id, hours, policy).items():
            judged[(deployment_id, hour)] = freshness
    return [replace(s, freshness=judged.get((s.deployment_id, s.start))) for s in summaries]
