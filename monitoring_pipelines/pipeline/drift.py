"""Score stored hourly profiles against the baseline, for the hour and its rolled-up windows.

Rolled-up windows (trailing 24 h, calendar day, week) are merges of all the stored
hourly profiles of the window, exact by construction, so re-running one past hour re-scores
its whole day and week (and the later trailing windows that hold it). While a day is live
its window holds the hours stored so far: the run for 10:00 scores 00:00 to 11:00.

Each window is scored against the training baseline and against the deployment's production
references (``drift.references``: the same hours last week, the previous day, a fixed
window), each a merge of stored hours; a reference with too few stored rows gives
``insufficient_data`` saying which hours it looked for. A reference is read when the window
is scored: re-running a reference hour later does not re-score the windows compared with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from monitoring_pipelines.config import DeploymentConfig, MonitorsConfig, Role
from monitoring_pipelines.pipeline.multivariate import multivariate_scores
from monitoring_pipelines.stats.batch_scoring import BatchWindow, deferred_gc, score_windows_batch
from monitoring_pipelines.stats.calibration import Calibration, calibrate
from monitoring_pipelines.stats.dataset import MULTIVARIATE, DatasetProfile
from monitoring_pipelines.stats.drift import DriftResult, insufficient
from monitoring_pipelines.stats.metrics.registry import get_spec
from monitoring_pipelines.stats.model_signals import ModelSignals, model_signals
from monitoring_pipelines.stats.multivariate import ReconstructionModel
from monitoring_pipelines.stats.profile import NumericalProfile
from monitoring_pipelines.stats.references import Reference, describe_span
from monitoring_pipelines.stats.scoring import ScoringSettings, default_metrics, score_window
from monitoring_pipelines.stats.segment_scoring import (
    SEGMENT_SHARE,
    correct_together,
    key_of,
    noted,
    rows_by_key,
    segment_baseline,
    segment_shares,
)
from monitoring_pipelines.stats.windows import merge_window, merge_windows, window_bounds
from monitoring_pipelines.store.aggregates import (
    read_baselines,
    read_fleet_windows,
    read_segment_baselines,
    read_segment_windows,
    read_windows,
)
from monitoring_pipelines.store.calibration import read_calibrations, write_calibration
from monitoring_pipelines.store.drift import DriftWindow, write_drift_windows
from monitoring_pipelines.store.multivariate import read_models

HOUR = timedelta(hours=1)


class MissingAggregatesError(RuntimeError):
    """Drift is scored from stored hourly profiles, so they must be materialized first."""


@dataclass(frozen=True)
class WindowScores:
    """Every metric of every column for one window against the training baseline (and in
    ``references``, against each production reference), plus the model signals of the hour."""

    deployment_id: str
    granularity: str
    start: datetime
    end: datetime
    rows: int
    scores: Mapping[str, tuple[DriftResult, ...]]  # a ResultTable from the batch
    signals: ModelSignals | None = None
    references: dict[str, dict[str, tuple[DriftResult, ...]]] = field(default_factory=dict)
    segments: dict[str, dict[str, tuple[DriftResult, ...]]] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        return [name for name, results in self.scores.items() if any(r.drifted for r in results)]

    @property
    def max_drift(self) -> tuple[str, str, float] | None:
        """(column, metric, value) of the real columns' distance largest relative to its
        threshold.

        Tests decided on a p-value are left out: their value is a statistic on another scale.
        So is the pseudo-column ``__multivariate__``: its ``reconstruction_error`` is a shift in
        σ (threshold 3), which would outrank every column's distance on the hours where only
        the correlations changed; it has its own number (``multivariate_drift``).
        """
        candidates = [
            (r.value / r.threshold, column, r.metric, r.value)
            for column, results in self.scores.items()
            if column != MULTIVARIATE
            for r in results
            if r.value is not None
            and not math.isnan(r.value)
            and r.threshold
            and get_spec(r.metric).decision == "distance"
        ]
        if not candidates:
            return None
        _, column, metric, value = max(candidates)
        return column, metric, value


def _metrics_by_column(deployment: DeploymentConfig) -> dict[str, list[str]]:
    """Per-column metric lists: explicit ones, else the deployment's per-kind defaults."""
    drift = deployment.drift
    predictions = {c.name for c in deployment.columns if c.role is Role.PREDICTION}
    chosen = {}
    for name, kind in deployment.monitored.items():
        kind_key = "prediction" if name in predictions else kind.value
        metrics = drift.metrics.get(name) or drift.default_metrics.get(kind_key)
        if metrics:
            chosen[name] = metrics
    return chosen


def scored_metrics(deployment: DeploymentConfig) -> dict[str, tuple[str, ...]]:
    """The metric keys each monitored column is scored with (configured, else the defaults)."""
    chosen = _metrics_by_column(deployment)
    predictions = {c.name for c in deployment.columns if c.role is Role.PREDICTION}
    return {
        name: tuple(chosen.get(name) or default_metrics(kind, name in predictions))
        for name, kind in deployment.monitored.items()
    }


def calibrate_baseline(
    deployment: DeploymentConfig,
    engine: Engine,
    reference: pd.DataFrame,
    baseline: DatasetProfile,
) -> int:
    """Learn the noise curves of the deployment's distance metrics from its reference rows and
    store them with the baseline; returns the number of curves."""
    curves = calibrate(
        reference, baseline, scored_metrics(deployment), params=deployment.drift.params
    )
    return write_calibration(engine, deployment.id, curves)


def score_profile(
    config: MonitorsConfig,
    deployment: DeploymentConfig,
    baseline: DatasetProfile,
    window: DatasetProfile,
    calibration: Calibration | None = None,
    model: ReconstructionModel | None = None,
) -> dict[str, tuple[DriftResult, ...]]:
    """Score one window with the deployment's drift settings, thresholds calibrated to the
    window's size where the baseline has noise curves; with the baseline's reconstruction
    ``model``, also the pseudo-column ``__multivariate__``."""
    settings = score_settings(config, deployment)
    scores = score_window(baseline, window, settings, calibration=calibration)
    return multivariate_scores(deployment, scores, model, baseline, window, settings.min_rows)


def score_settings(config: MonitorsConfig, deployment: DeploymentConfig) -> ScoringSettings:
    """How the deployment's windows are scored (also the notebook Monitor's settings)."""
    drift = deployment.drift
    return ScoringSettings(
        metrics=_metrics_by_column(deployment),
        prediction_columns={c.name for c in deployment.columns if c.role is Role.PREDICTION},
        thresholds=drift.thresholds,
        column_thresholds=drift.column_thresholds,
        params=drift.params,
        min_rows=drift.min_rows or config.defaults.min_rows,
        correction=drift.correction,
    )


def signals_of(
    deployment: DeploymentConfig, baseline: DatasetProfile, window: DatasetProfile
) -> ModelSignals | None:
    """Prediction drift and confidence numbers, when the deployment declares those columns."""
    prediction = deployment.column_with_role(Role.PREDICTION)
    confidence = deployment.column_with_role(Role.CONFIDENCE)
    if prediction is None and confidence is None:
        return None

    def pick(profile: DatasetProfile, column) -> object:
        return profile.columns.get(column.name) if column is not None else None

    return model_signals(
        pick(baseline, prediction),
        pick(window, prediction),
        pick(baseline, confidence),
        pick(window, confidence),
        low_confidence_threshold=deployment.drift.low_confidence_threshold,
    )


def affected_windows(
    hours: list[datetime], stored: Iterable[datetime], granularities: Iterable[str]
) -> list[tuple[str, datetime, datetime]]:
    """The windows a run over ``hours`` changes, in order, each once: the hours themselves,
    the day and week holding them, and the trailing 24 h ending at each of them or at a stored
    hour less than a day after one (those trailing windows hold a re-run hour too)."""
    granularities = list(granularities)
    run = set(hours)
    windows: dict[tuple[str, datetime], datetime] = {}
    for hour in sorted(hours):
        for granularity in granularities:
            start, end = window_bounds(hour, granularity)
            windows.setdefault((granularity, start), end)
    if "trailing_24h" in granularities:
        for hour in sorted(stored):
            if any(hour - k * HOUR in run for k in range(1, 24)):
                start, end = window_bounds(hour, "trailing_24h")
                windows.setdefault(("trailing_24h", start), end)
    return [(granularity, start, end) for (granularity, start), end in windows.items()]


def _reference_hours(
    engine: Engine,
    deployment_id: str,
    references: Sequence[Reference],
    windows: Sequence[tuple[str, datetime, datetime]],
    baseline: DatasetProfile,
) -> dict[datetime, DatasetProfile]:
    """The stored hours the production references of ``windows`` span (one read each)."""
    found: dict[datetime, DatasetProfile] = {}
    for reference in references:
        spans = [reference.bounds(start, end) for _, start, end in windows]
        if spans:
            lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
            found.update(read_windows(engine, deployment_id, lo, hi, baseline))
    return found


def reference_item(
    config: MonitorsConfig,
    deployment: DeploymentConfig,
    reference: Reference,
    baseline: DatasetProfile,
    window: DatasetProfile,
    against: DatasetProfile | None,
    span: tuple[datetime, datetime],
    calibration: Calibration | None = None,
) -> dict[str, tuple[DriftResult, ...]] | BatchWindow:
    """How ``window`` is scored against the merged hours ``against`` of a production reference,
    on the columns and metrics in its scope: a window for ``score_windows_batch`` (the training
    noise curves read at the two-sample effective size, ``stats.calibration``), or, with fewer
    than ``min_rows`` reference rows (none stored), its ``insufficient_data`` results with the
    reason."""
    settings = score_settings(config, deployment)
    scoped = {
        name: chosen
        for name, metrics in scored_metrics(deployment).items()
        if (chosen := reference.metrics_for(name, metrics))
    }
    rows = 0 if against is None else against.row_count
    if rows < settings.min_rows:
        reason = (
            f"reference {describe_span(reference.name, *span)} holds {rows} stored row(s), "
            f"fewer than min_rows {settings.min_rows}"
        )
        return {
            name: tuple(_unscored(settings, name, m, rows, window, reason) for m in metrics)
            for name, metrics in scoped.items()
        }

    def only(profile: DatasetProfile) -> DatasetProfile:
        return DatasetProfile(profile.row_count, {n: profile.columns[n] for n in scoped})

    return (
        only(against),
        only(window),
        replace(settings, metrics=scoped, calibration=calibration, calibrated_on=only(baseline)),
    )


def _unscored(
    settings: ScoringSettings,
    column: str,
    metric: str,
    reference_rows: int,
    window: DatasetProfile,
    reason: str,
) -> DriftResult:
    """``insufficient_data`` for a metric whose reference is (nearly) empty, saying why."""
    threshold = settings.column_thresholds.get(column, {}).get(metric)
    if threshold is None:
        threshold = settings.thresholds.get(metric, get_spec(metric).threshold)
    current = window.columns[column]
    size = current.rows if get_spec(metric).sizes == "rows" else current.count
    result = insufficient(metric, threshold, reference_rows, size, settings.min_rows)
    return replace(result, detail={**result.detail, "reason": reason})


def score_windows(
    config: MonitorsConfig,
    engine: Engine,
    windows: list[tuple[str, datetime]],
    progress: Callable[[int, int, WindowScores], None] = lambda i, n, s: None,
) -> list[WindowScores]:
    """Score every window the hours of a run change (one hour, or a single-run backfill, of
    one or many deployments), each merged from all its stored hours (re-running one past hour
    re-scores its whole day, not the day to that hour). The deployments are taken in groups
    spanning at most :data:`READ_HOURS` stored hours; a group's baselines, calibrations, models
    and hours are read in one query each (production references in one more per reference,
    segments per deployment); its windows are scored in batches of :data:`BATCH_WINDOWS`,
    each batch's metrics over stacked counts, and written in one transaction per batch."""
    hours_of = {d: sorted(h for _, h in group) for d, group in groupby(sorted(windows), key=_first)}
    results: list[WindowScores] = []
    for group in _groups(config, hours_of):
        for item in _score_group(config, engine, group):
            results.append(item)
            if item.granularity == "hour":
                progress(sum(r.granularity == "hour" for r in results), len(windows), item)
    return results


READ_HOURS = 4096  # stored hours read at once: a fleet's month backfill is read in groups


def _groups(
    config: MonitorsConfig, hours_of: dict[str, list[datetime]]
) -> Iterator[dict[str, list[datetime]]]:
    """The deployments of a run in groups whose spans of stored hours add up to at most
    :data:`READ_HOURS` (a deployment spanning more is a group of its own)."""
    group: dict[str, list[datetime]] = {}
    size = 0
    for deployment_id, hours in hours_of.items():
        start, end = _span(hours, config.deployment(deployment_id).drift.granularities)
        span = (end - start) // HOUR
        if group and size + span > READ_HOURS:
            yield group
            group, size = {}, 0
        group[deployment_id] = hours
        size += span
    if group:
        yield group


def _score_group(
    config: MonitorsConfig, engine: Engine, hours_of: dict[str, list[datetime]]
) -> Iterator[WindowScores]:
    """Read, score and write the windows of one group of deployments (deployment → hours)."""
    with deferred_gc():  # the profiles read survive the group: nothing to collect
        jobs, stored = _read_group(config, engine, hours_of)
    for first in range(0, len(jobs), BATCH_WINDOWS):
        with deferred_gc():
            batch = _score_batch(config, engine, jobs[first : first + BATCH_WINDOWS], stored)
        yield from batch


def _read_group(
    config: MonitorsConfig, engine: Engine, hours_of: dict[str, list[datetime]]
) -> tuple[list[tuple[DeploymentConfig, str, datetime, datetime]], Stored]:
    """The windows of a group of deployments to score (deployment, granularity, start, end)
    and what scoring them needs, read in one query each."""
    deployments = [config.deployment(d) for d in hours_of]
    baselines = read_baselines(engine, hours_of)
    for deployment in deployments:
        if deployment.id not in baselines:
            raise MissingAggregatesError(
                f"deployment {deployment.id!r} has no baseline_statistics yet: materialize it first"
            )
    calibrations = read_calibrations(engine, hours_of)
    models = read_models(engine, hours_of)
    spans = {
        d.id: (*_span(hours_of[d.id], d.drift.granularities), baselines[d.id]) for d in deployments
    }
    hourly = {
        d: on_baseline(hours, baselines[d], set(hours_of[d]))
        for d, hours in read_fleet_windows(engine, spans).items()
    }
    jobs, pools = [], {}
    for deployment in deployments:
        _check_stored(deployment.id, hours_of[deployment.id], hourly[deployment.id])
        affected = affected_windows(
            hours_of[deployment.id], hourly[deployment.id], deployment.drift.granularities
        )
        jobs += [(deployment, *window) for window in affected]
        references = deployment.drift.production_references
        pools[deployment.id] = hourly[deployment.id]
        if references:
            found = _reference_hours(
                engine, deployment.id, references, affected, baselines[deployment.id]
            )
            pools[deployment.id] = {**hourly[deployment.id], **found}
    segment_baselines, segment_hours = {}, {}
    for d in deployments:
        if d.segment_keys:
            segment_baselines[d.id] = read_segment_baselines(engine, d.id)
            segment_hours[d.id] = {
                segment: on_baseline(hours, baselines[d.id], set(hours_of[d.id]))
                for segment, hours in _by_segment(
                    read_segment_windows(engine, d.id, *spans[d.id])
                ).items()
            }
    stored = Stored(
        baselines, calibrations, models, hourly, pools, segment_baselines, segment_hours
    )
    return jobs, stored


def on_baseline(
    hours: dict[datetime, DatasetProfile], baseline: DatasetProfile, scored: set[datetime]
) -> dict[datetime, DatasetProfile]:
    """The hours counted on ``baseline``'s bin edges, and the ``scored`` ones: an hour profiled
    against an older baseline version (before a retraining) cannot merge with the newer ones,
    so it stays out of the rolled-up windows judged against the new version (a segment's hours
    too: they are counted on the population's edges)."""

    def same_bins(profile: DatasetProfile) -> bool:
        return all(
            column.edges is baseline.columns[name].edges  # shared when read (read_fleet_windows)
            or np.array_equal(column.edges, baseline.columns[name].edges)
            for name, column in profile.columns.items()
            if isinstance(column, NumericalProfile) and name in baseline.columns
        )

    return {hour: p for hour, p in hours.items() if hour in scored or same_bins(p)}


BATCH_WINDOWS = 512  # windows scored and written together: bounds the profiles held at once


@dataclass(frozen=True)
class Stored:
    """What a run read: baselines, calibrations, reconstruction models, hours, hours with
    the references' own, and, for deployments with segments, each segment's baseline and
    hours."""

    baselines: dict[str, DatasetProfile]
    calibrations: dict[str, Calibration]
    models: dict[str, ReconstructionModel | None]
    hourly: dict[str, dict[datetime, DatasetProfile]]
    pools: dict[str, dict[datetime, DatasetProfile]]
    segment_baselines: dict[str, dict[str, DatasetProfile]] = field(default_factory=dict)
    segment_hours: dict[str, dict[str, dict[datetime, DatasetProfile]]] = field(
        default_factory=dict
    )


def _score_batch(config, engine, jobs, stored: Stored) -> list[WindowScores]:
    """Merge, score (one batch, against training and every production reference) and write
    (one transaction) the windows of ``jobs``."""
    profiles = _merged(stored.hourly, [(d.id, start, end) for d, _, start, end in jobs])
    settings = {d.id: score_settings(config, d) for d, _, _, _ in jobs}
    items: list[BatchWindow] = []
    places: list[tuple[int, dict[str, Any]]] = []  # per job: its item, its references'
    segment_places: list[dict[str, tuple]] = []  # per job: its segments' item, note, rows
    for (d, _, start, end), profile in zip(jobs, profiles, strict=True):
        baseline, calibration = stored.baselines[d.id], stored.calibrations[d.id]
        places.append((len(items), {}))
        together = {"correction": "none"} if d.segment_keys else {}  # corrected with segments
        items.append(
            (baseline, profile, replace(settings[d.id], calibration=calibration, **together))
        )
        segment_places.append({})
        for segment, window, item, note in _segment_items(d, settings[d.id], stored, start, end):
            segment_places[-1][segment] = (len(items), note, window.row_count)
            items.append(item)
        for reference in d.drift.production_references:
            span = reference.bounds(start, end)
            against = merge_window(stored.pools[d.id], *span)
            item = reference_item(
                config, d, reference, baseline, profile, against, span, calibration
            )
            places[-1][1][reference.name] = item if isinstance(item, dict) else len(items)
            if not isinstance(item, dict):
                items.append(item)
    scored = score_windows_batch(items)
    results = [
        (
            multivariate_scores(
                d,
                scored[at],
                stored.models[d.id],
                stored.baselines[d.id],
                profile,
                settings[d.id].min_rows,
            ),
            {name: r if isinstance(r, dict) else scored[r] for name, r in refs.items()},
        )
        for (d, _, _, _), profile, (at, refs) in zip(jobs, profiles, places, strict=True)
    ]
    segmented = [
        _segment_results(d, settings[d.id], stored, scores, places_of, scored)
        for (d, _, _, _), (scores, _), places_of in zip(jobs, results, segment_places, strict=True)
    ]
    results = [(scores, refs) for (_, refs), (scores, _) in zip(results, segmented, strict=True)]
    write_drift_windows(
        engine,
        [
            DriftWindow(d.id, start, end, granularity, scores, references, segments)
            for (d, granularity, start, end), (scores, references), (_, segments) in zip(
                jobs, results, segmented, strict=True
            )
        ],
    )
    return [
        WindowScores(
            d.id,
            granularity,
            start,
            end,
            profile.row_count,
            scores,
            signals_of(d, stored.baselines[d.id], profile) if granularity == "hour" else None,
            references,
            segments,
        )
        for (d, granularity, start, end), profile, (scores, references), (_, segments) in zip(
            jobs, profiles, results, segmented, strict=True
        )
    ]


def _merged(
    pools: Mapping[str, Mapping[datetime, DatasetProfile]],
    windows: Sequence[tuple[str, datetime, datetime]],
) -> list[DatasetProfile | None]:
    """The merged profile of each (deployment, start, end) from the deployment's ``pools``
    hours, each deployment's windows of the same hours merged once (``merge_windows``)."""
    at: dict[str, list[int]] = {}
    for i, (deployment_id, _, _) in enumerate(windows):
        at.setdefault(deployment_id, []).append(i)
    out: list[DatasetProfile | None] = [None] * len(windows)
    for deployment_id, indices in at.items():
        bounds = [windows[i][1:] for i in indices]
        for i, profile in zip(indices, merge_windows(pools[deployment_id], bounds), strict=True):
            out[i] = profile
    return out


def _by_segment(
    windows: Mapping[datetime, Mapping[str, DatasetProfile]],
) -> dict[str, dict[datetime, DatasetProfile]]:
    """Stored segment hours (hour → segment → profile) as segment → hour → profile."""
    out: dict[str, dict[datetime, DatasetProfile]] = {}
    for hour, segments in windows.items():
        for segment, profile in segments.items():
            out.setdefault(segment, {})[hour] = profile
    return out


def _segment_items(d, settings, stored: Stored, start: datetime, end: datetime):
    """(segment, merged window, batch item, baseline note) of each segment the window holds."""
    keys = d.segment_keys
    if not keys:
        return
    population = stored.baselines[d.id]
    for segment, hours in sorted(stored.segment_hours[d.id].items()):
        window = merge_window(hours, start, end)
        key = key_of(segment, keys)
        if window is None or key is None:
            continue
        min_rows = key.min_rows or settings.min_rows
        baseline, note = segment_baseline(
            segment, key, population, stored.segment_baselines[d.id], min_rows
        )
        own = note["baseline"] == "segment"
        item_settings = replace(
            settings,
            correction="none",
            min_rows=min_rows,
            calibration=stored.calibrations[d.id],
            calibrated_on=population if own else None,
        )
        yield segment, window, (baseline, window, item_settings), note


def _segment_results(d, settings, stored: Stored, scores, places_of, scored):
    """The population's scores (with each key's ``segment_share``) and every segment's, their
    p-values corrected as one family; unchanged for a deployment without segments."""
    if not d.segment_keys:
        return scores, {}
    segments = {s: noted(scored[at], note) for s, (at, note, _) in places_of.items()}
    scores, segments = correct_together(scores, segments, settings.correction)
    reference_rows = {s: p.row_count for s, p in stored.segment_baselines[d.id].items()}
    window_rows = {s: rows for s, (_, _, rows) in places_of.items()}
    before = rows_by_key(reference_rows, d.segment_keys)
    after = rows_by_key(window_rows, d.segment_keys)
    scores = dict(scores)
    for key in d.segment_keys:
        share = segment_shares(
            key,
            before[key.name],
            after[key.name],
            threshold=settings.thresholds.get(SEGMENT_SHARE),
            min_rows=settings.min_rows,
        )
        scores[key.name] = (*scores.get(key.name, ()), share)
    return scores, segments


def _first(window: tuple[str, datetime]) -> str:
    return window[0]


def _span(hours: list[datetime], granularities: list[str]) -> tuple[datetime, datetime]:
    """The stored hours every window of ``hours`` may hold (and the trailing windows after)."""
    bounds = [window_bounds(h, g) for h in (hours[0], hours[-1]) for g in granularities]
    start = min(b[0] for b in bounds)
    end = max([b[1] for b in bounds] + [hours[-1] + 24 * HOUR])
    return start, end


def _check_stored(deployment_id: str, hours: list[datetime], stored: Iterable[datetime]) -> None:
    absent = [h for h in hours if h not in stored]
    if absent:
        shown = ", ".join(f"{h:%Y-%m-%d %H:%M}" for h in absent[:5])
        raise MissingAggregatesError(
            f"deployment {deployment_id!r} has no hourly_aggregates for {shown}"
            f"{' and more' if len(absent) > 5 else ''}: materialize them first"
        )
