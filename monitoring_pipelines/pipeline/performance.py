"""The work behind ``model_performance``: an hour's predictions joined with the labels so far.

The hour is read once for its narrow columns (request id, prediction, score; latency goes
into the sketch chunk by chunk). Labels that arrived in ``[hour start, cutoff)`` are streamed
in chunks and only those matching the hour's request ids are kept (the latest arrival wins
when a request was labelled twice), so memory holds the hour's ids and its labels, never the
horizon's. The cutoff is ``min(hour end + label_horizon_hours, now)``; it is stored, so a
rerun that saw no new label gives the same rows.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from monitoring_pipelines.config import DeploymentConfig, MonitorsConfig, ParquetLabels, Role
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.pipeline.label_accounting import LabelAccount, account_hour, arrival_hours
from monitoring_pipelines.pipeline.performance_segments import (
    UNLABELLED,
    SegmentAccumulators,
    SegmentPerformance,
    label_segments,
)
from monitoring_pipelines.sources.base import LogSource
from monitoring_pipelines.sources.labels import (
    ARRIVED_AT,
    LABEL,
    REQUEST_ID,
    LabelSource,
    ParquetLabelSource,
    SqlLabelSource,
)
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.cbpe import CbpeAggregate, CbpeReference
from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import (
    ClassificationAccumulator,
    Performance,
    RegressionAccumulator,
    accumulator,
    class_labels,
)
from monitoring_pipelines.stats.scoring import DEFAULT_MIN_ROWS
from monitoring_pipelines.stats.segmented import Folding
from monitoring_pipelines.store.engine import checked_url
from monitoring_pipelines.store.performance import (
    CBPE_REFERENCE,
    BaselinePerformance,
    read_baseline_performance,
    stored_windows,
    write_estimated,
    write_performance,
)

HOUR = timedelta(hours=1)
# How long after its horizon an hour not yet computed with final labels is still recomputed.
FINALIZE_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class PerformanceSummary:
    """One window's performance as written, for logs, metadata and the demo's table."""

    deployment_id: str
    start: datetime
    end: datetime
    performance: Performance
    latency: LatencySketch
    labels_through: datetime | None
    labels_read: int
    baseline: BaselinePerformance | None = None
    labels: LabelAccount | None = None
    segments: Mapping[str, SegmentPerformance] = field(default_factory=dict)
    folding: tuple[Folding, ...] = ()


def label_source(config: MonitorsConfig, deployment: DeploymentConfig) -> LabelSource:
    """The labels reader a deployment's ``labels`` block describes (it must have one)."""
    labels = deployment.labels
    if labels is None:
        raise ValueError(f"deployment {deployment.id!r} has no labels block in monitors.yaml")
    request_id = deployment.column_with_role(Role.REQUEST_ID).name
    label = deployment.column_with_role(Role.LABEL).name
    chunk_rows = config.defaults.chunk_rows
    if isinstance(labels, ParquetLabels):
        return ParquetLabelSource(labels.path, request_id, label, labels.arrival_column, chunk_rows)
    url = os.environ.get(labels.url_env)
    if not url:
        raise RuntimeError(
            f"deployment {deployment.id!r}: labels.url_env names {labels.url_env}, which is not set"
        )
    table = SqlLogSource(
        checked_url(url, labels.url_env),
        labels.table,
        labels.arrival_column,
        labels.deployment_column,
        deployment.id if labels.deployment_column else None,
        chunk_rows=chunk_rows,
        pushdown=False,
    )
    return SqlLabelSource(table, request_id, label)


def _names(deployment: DeploymentConfig) -> dict[Role, str]:
    roles = (Role.REQUEST_ID, Role.PREDICTION, Role.SCORE, Role.LATENCY)
    return {r: c.name for r in roles if (c := deployment.column_with_role(r)) is not None}


def probability_columns(deployment: DeploymentConfig) -> dict[str, str]:
    """A multiclass deployment's class → probability column (empty when it logs none)."""
    labels = deployment.labels
    return dict(labels.probabilities or {}) if labels is not None else {}


def _read_hour(
    source: LogSource,
    names: dict[Role, str],
    start: datetime,
    end: datetime,
    segment_columns: Sequence[str] = (),
    probabilities: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, LatencySketch]:
    """The hour's request id, prediction, score and class probability columns (with segments,
    also the latency and the segment key columns), and its latency sketch. A probability
    column the logs lack is all missing: its rows are counted, not a crash."""
    sketch = LatencySketch()
    narrow = [names[r] for r in (Role.REQUEST_ID, Role.PREDICTION, Role.SCORE) if r in names]
    if segment_columns:
        narrow += [names[Role.LATENCY]] if Role.LATENCY in names else []
        narrow = list(dict.fromkeys([*narrow, *segment_columns]))
    narrow = list(dict.fromkeys([*narrow, *(probabilities or {}).values()]))
    frames = []
    read = list(dict.fromkeys([*names.values(), *segment_columns, *narrow]))
    for chunk in source.read_window(start, end, read):
        if Role.LATENCY in names and names[Role.LATENCY] in chunk:
            sketch = sketch.merge(LatencySketch.from_values(chunk[names[Role.LATENCY]]))
        frames.append(chunk.reindex(columns=narrow))
    hour = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=narrow)
    return hour, sketch


def _matched_labels(
    labels: LabelSource, ids: pd.Index, start: datetime, cutoff: datetime
) -> tuple[pd.DataFrame, int, Counter[str]]:
    """The latest label of each of ``ids`` that arrived in ``[start, cutoff)``, the count of
    labels read, and the label rows of ``ids`` per arrival hour (every row: the accounting)."""
    kept, read, hours = [], 0, Counter()
    for chunk in labels.read_arrived(start, cutoff):
        read += len(chunk)
        mine = chunk[chunk[REQUEST_ID].isin(ids)]
        hours.update(arrival_hours(mine))
        kept.append(mine[mine[LABEL].notna()])
    if not kept:
        empty = pd.DataFrame(columns=[REQUEST_ID, LABEL, ARRIVED_AT]).set_index(REQUEST_ID)
        return empty, read, hours
    matched = pd.concat(kept, ignore_index=True).sort_values(ARRIVED_AT, kind="stable")
    return matched.drop_duplicates(REQUEST_ID, keep="last").set_index(REQUEST_ID), read, hours


def window_performance(
    deployment: DeploymentConfig,
    engine: Engine,
    source: LogSource,
    labels: LabelSource | None,
    start: datetime,
    end: datetime,
    now: datetime,
    chunk_rows: int = 100_000,
    baseline: BaselinePerformance | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> PerformanceSummary:
    """Compute and store one window's performance from the labels arrived before ``now``,
    compared with ``baseline`` (the validation set's) when given; with segment keys, every
    segment's too (``performance_segments``; ``min_rows`` unless the key sets its own)."""
    names = _names(deployment)
    probabilities = probability_columns(deployment)
    keys = deployment.segment_keys
    columns = list(dict.fromkeys(c for key in keys for c in key.columns))
    read_all, latency = _read_hour(source, names, start, end, columns, probabilities)
    foldings = label_segments(read_all, keys)
    hour = read_all
    settings = deployment.labels
    estimate_window(deployment, engine, hour, names, start, end, baseline)
    if labels is None or settings is None or Role.REQUEST_ID not in names:
        performance = Performance(None, UNLABELLED, len(hour), 0)
        segments = SegmentAccumulators(keys, None).results(
            read_all, read_all, names.get(Role.LATENCY), min_rows
        )
        write_performance(
            engine, deployment.id, start, end, performance, latency, None, segments=segments
        )
        return PerformanceSummary(
            deployment.id, start, end, performance, latency, None, 0,
            segments=segments, folding=foldings,
        )  # fmt: skip
    cutoff = min(end + timedelta(hours=settings.label_horizon_hours), now.astimezone(UTC))
    hour[names[Role.REQUEST_ID]] = hour[names[Role.REQUEST_ID]].astype(str)
    hour = hour.drop_duplicates(names[Role.REQUEST_ID]).set_index(names[Role.REQUEST_ID])
    matched, read, hours = _matched_labels(labels, hour.index, start, max(cutoff, start))
    horizon = timedelta(hours=settings.label_horizon_hours)
    account = account_hour(engine, deployment.id, labels, start, horizon, hours)
    joined = hour.join(matched[[LABEL]], how="inner")

    def make() -> ClassificationAccumulator | RegressionAccumulator:
        return accumulator(
            settings.task,
            settings.positive_class,
            settings.classes if probabilities else None,
            settings.probability_tolerance,
        )

    acc, per_segment = make(), SegmentAccumulators(keys, make)
    score = names.get(Role.SCORE)
    scored = score is not None and bool(joined[score].notna().all())

    def add(into: ClassificationAccumulator | RegressionAccumulator, part: pd.DataFrame) -> None:
        if settings.task == "regression":
            into.add(part[LABEL], part[names[Role.PREDICTION]])
        else:
            into.add(
                part[LABEL],
                part[names[Role.PREDICTION]],
                part[score] if scored else None,
                {c: part[column] for c, column in probabilities.items()} or None,
            )

    for offset in range(0, len(joined), chunk_rows):
        part = joined.iloc[offset : offset + chunk_rows]
        add(acc, part)
        per_segment.add(part, add)
    performance = acc.result(len(hour))
    segments = per_segment.results(read_all, hour, names.get(Role.LATENCY), min_rows)
    accounting = {"matched": dict(hours), "account": account}
    write_performance(
        engine, deployment.id, start, end, performance, latency, cutoff, baseline, accounting,
        segments=segments,
    )  # fmt: skip
    return PerformanceSummary(
        deployment.id, start, end, performance, latency, cutoff, read, baseline, account,
        segments, foldings,
    )  # fmt: skip


def estimate_window(
    deployment: DeploymentConfig,
    engine: Engine,
    hour: pd.DataFrame,
    names: dict[Role, str],
    start: datetime,
    end: datetime,
    baseline: BaselinePerformance | None,
) -> CbpeAggregate | None:
    """Store the hour's CBPE estimate (binary, scored, with a fitted reference); no labels
    are needed, so every scored hour has one. Rows without a score are left out."""
    data = baseline.details.get(CBPE_REFERENCE) if baseline else None
    if data is None or Role.SCORE not in names or deployment.labels is None:
        return None
    reference = CbpeReference.from_json(data)
    scored = hour[hour[names[Role.SCORE]].notna()]
    positive = class_labels(scored[names[Role.PREDICTION]]) == deployment.labels.positive_class
    aggregate = CbpeAggregate.of(reference, scored[names[Role.SCORE]], positive)
    write_estimated(engine, deployment.id, start, end, aggregate)
    return aggregate


def performance_windows(
    config: MonitorsConfig,
    engine: Engine,
    windows: list[tuple[str, datetime]],
    progress: Callable[[int, int, PerformanceSummary], None] = lambda i, n, s: None,
    now: datetime | None = None,
) -> list[PerformanceSummary]:
    """Compute many hourly windows (a backfill) in one pass, one source pair per deployment."""
    now = now or datetime.now(UTC)
    sources: dict[str, tuple[LogSource, LabelSource | None]] = {}
    baselines: dict[str, BaselinePerformance | None] = {}
    summaries = []
    for index, (deployment_id, start) in enumerate(windows, start=1):
        deployment = config.deployment(deployment_id)
        if deployment_id not in sources:
            labels = label_source(config, deployment) if deployment.labels else None
            sources[deployment_id] = (log_source(config, deployment), labels)
            baselines[deployment_id] = read_baseline_performance(engine, deployment_id)
        summary = window_performance(
            deployment,
            engine,
            *sources[deployment_id],
            start,
            start + HOUR,
            now,
            config.defaults.chunk_rows,
            baselines[deployment_id],
            deployment.drift.min_rows or config.defaults.min_rows,
        )
        summaries.append(summary)
        progress(index, len(windows), summary)
    return summaries


def stale_hours(
    config: MonitorsConfig, engine: Engine, deployment: DeploymentConfig, now: datetime
) -> list[datetime]:
    """Hours within ``label_horizon_hours`` of ``now`` that got a label for one of their
    requests since they were computed (read: the hour's request ids and the labels arrived
    after its ``labels_through``), and hours whose horizon passed (up to ``FINALIZE_LOOKBACK``
    ago) but were last computed before it, so each hour gets one computation with its final
    labels (the one whose performance CloudWatch receives), oldest first."""
    settings = deployment.labels
    if settings is None:
        return []
    now = now.astimezone(UTC)
    horizon = timedelta(hours=settings.label_horizon_hours)
    stored = stored_windows(engine, deployment.id, now - horizon - HOUR - FINALIZE_LOOKBACK, now)
    request_id = deployment.column_with_role(Role.REQUEST_ID).name
    logs, labels = log_source(config, deployment), label_source(config, deployment)
    stale = []
    for start, window in stored.items():
        cutoff = min(start + HOUR + horizon, now)
        if window.labels_through is None or cutoff <= window.labels_through:
            continue
        if start + HOUR + horizon <= now:
            stale.append(start)  # the horizon passed: computed once more, with final labels
            continue
        ids = pd.Index(
            pd.concat(
                [
                    c[request_id].astype(str)
                    for c in logs.read_window(start, start + HOUR, [request_id])
                ]
                or [pd.Series(dtype=str)]
            )
        )
        arrived = labels.read_arrived(window.labels_through, cutoff)
        if any(chunk[REQUEST_ID].isin(ids).any() for chunk in arrived):
            stale.append(start)
    return stale
