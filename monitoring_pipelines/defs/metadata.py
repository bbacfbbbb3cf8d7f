"""Dagster metadata built from profiles and scores, so the UI can show and plot each partition.

The numeric keys below are a contract (README "What the UI shows"): every partition of
``hourly_aggregates`` and ``drift_scores`` carries them with that hour's own values,
rounded to ``DIGITS`` decimals for reading.

- ``hourly_aggregates``: ``rows``, ``missing_share`` (missing cells / (rows × columns)),
  ``missing_total``, ``data_freshness`` (``fresh``, ``low_volume`` or ``no_data``),
  ``replaced_values``, the row counts the source keeps (``rows_out_of_window``, ...),
  ``profiled_in`` (``database`` or ``rows``) and ``pushdown_skipped`` (why not in the database).
- ``drift_scores``: ``rows``, ``max_drift_score``, ``drifted_columns`` (the population's,
  against training), ``drifted_columns_<reference>`` for each production reference
  (``drift.references``), with segments ``drifted_segments`` (segments with a drifted column),
  and with a prediction or confidence column ``prediction_drift``, ``mean_confidence``,
  ``confidence_drop``, ``low_confidence_share``.
- ``model_performance``: ``status``, ``rows_scored``, ``labelled_rows``, ``labelled_share``,
  ``labels_through``, every metric of the task (``accuracy``, ``f1``, ``roc_auc``, ... or
  ``rmse``, ``mae``, ``r2``, ``mean_error``), ``latency_p50``/``p95``/``p99``; with
  segments also ``segments`` and a ``segment_performance`` table.
"""

import dagster as dg

from monitoring_pipelines.pipeline.aggregation import WindowSummary
from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.pipeline.performance import PerformanceSummary
from monitoring_pipelines.stats.dataset import MULTIVARIATE, DatasetProfile
from monitoring_pipelines.stats.multivariate import ReconstructionModel
from monitoring_pipelines.stats.performance import Performance, primary_metric
from monitoring_pipelines.stats.scoring import drifted_columns
from monitoring_pipelines.stats.segment_scoring import worst_segments
from monitoring_pipelines.store.performance import (
    LATENCY_QUANTILES,
    BaselinePerformance,
    versus_rows,
)

DIGITS = 4


def _number(value: float | None) -> dg.MetadataValue:
    """A float rounded for reading, or null when there is no value (plots leave a gap)."""
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.float(round(float(value), DIGITS))


def missing_share(profile: DatasetProfile) -> float | None:
    """Missing cells over all cells of the profiled columns; None for an empty window."""
    cells = profile.row_count * len(profile.columns)
    return sum(profile.missing_counts.values()) / cells if cells else None


def profile_metadata(profile: DatasetProfile) -> dict[str, dg.MetadataValue]:
    """Rows, columns and missing counts of one profile."""
    missing = profile.missing_counts
    table = "\n".join(
        ["| column | kind | count | missing |", "|---|---|---:|---:|"]
        + [
            f"| {name} | {p.kind.value} | {p.count} | {missing[name]} |"
            for name, p in profile.columns.items()
        ]
    )
    metadata = {
        "rows": dg.MetadataValue.int(profile.row_count),
        "missing_share": _number(missing_share(profile)),
        "missing_total": dg.MetadataValue.int(sum(missing.values())),
        "missing_counts": dg.MetadataValue.json(missing),
        "columns": dg.MetadataValue.json(sorted(profile.columns)),
        "profile": dg.MetadataValue.md(table),
    }
    if profile.absent_columns:
        metadata["absent_columns"] = dg.MetadataValue.json(list(profile.absent_columns))
    return metadata


def window_metadata(summary: WindowSummary) -> dict[str, dg.MetadataValue]:
    """Metadata of one hour of ``hourly_aggregates``."""
    metadata = profile_metadata(summary.profile) | {
        "window": dg.MetadataValue.text(f"{summary.start.isoformat()} – {summary.end.isoformat()}"),
    }
    if summary.freshness is not None:
        metadata["data_freshness"] = dg.MetadataValue.text(summary.freshness.status)
    for reason, rows in summary.accounted.items():
        metadata[reason] = dg.MetadataValue.int(rows)
    metadata["profiled_in"] = dg.MetadataValue.text(summary.profiled_in)
    if summary.pushdown_skipped:
        metadata["pushdown_skipped"] = dg.MetadataValue.text(summary.pushdown_skipped)
    metadata["replaced_values"] = dg.MetadataValue.int(summary.replaced_values)
    if summary.segment_rows:
        metadata["segments"] = dg.MetadataValue.int(len(summary.segment_rows))
        metadata["segment_rows"] = dg.MetadataValue.json(dict(summary.segment_rows))
        for folding in summary.folding:
            metadata[f"segment_values_folded_{folding.key}"] = dg.MetadataValue.int(
                folding.folded_values
            )
        if summary.segment_notices:
            metadata["segment_notice"] = dg.MetadataValue.text("; ".join(summary.segment_notices))
    return metadata


def _scores_table(window: WindowScores) -> str:
    lines = ["| column | metric | value | threshold | status |", "|---|---|---:|---:|---|"]
    for column, results in window.scores.items():
        for r in results:
            value = "–" if r.value is None else f"{r.value:.4g}"
            flag = " **drifted**" if r.drifted else ""
            lines.append(
                f"| {column} | {r.metric} | {value} | {r.threshold:.4g} | {r.status}{flag} |"
            )
    return "\n".join(lines)


def hour_drift_metadata(hour: WindowScores) -> dict[str, dg.MetadataValue]:
    """One hour of ``drift_scores``: the largest drift, drifted columns, model signals."""
    largest = hour.max_drift
    metadata: dict[str, dg.MetadataValue] = {
        "window": dg.MetadataValue.text(f"{hour.start.isoformat()} – {hour.end.isoformat()}"),
        "rows": dg.MetadataValue.int(hour.rows),
        "max_drift_score": _number(largest[2] if largest else None),
        "max_drift": dg.MetadataValue.text(f"{largest[0]} {largest[1]}" if largest else "none"),
        "drifted_columns": dg.MetadataValue.int(len(hour.drifted_columns)),
        "drifted_column_names": dg.MetadataValue.json(hour.drifted_columns),
        "scores": dg.MetadataValue.md(_scores_table(hour)),
    }
    for reference, scores in hour.references.items():
        drifted = drifted_columns(scores)
        metadata[f"drifted_columns_{reference}"] = dg.MetadataValue.int(len(drifted))
        metadata[f"drifted_column_names_{reference}"] = dg.MetadataValue.json(drifted)
    metadata |= multivariate_drift_metadata(hour) | segment_drift_metadata(hour)
    signals = hour.signals
    if signals is not None:
        metadata |= {
            "prediction_drift": _number(
                signals.prediction_drift.value if signals.prediction_drift else None
            ),
            "mean_confidence": _number(signals.mean_confidence),
            "confidence_drop": _number(signals.confidence_drop),
            "low_confidence_share": _number(signals.low_confidence_share),
        }
    return metadata


TOP_SEGMENTS = 3  # segments with their own numeric metadata (plotted across partitions)


def segment_drift_metadata(hour: WindowScores) -> dict[str, dg.MetadataValue]:
    """The window's worst segments: a table of the five largest, and the largest drift score
    of the top three as numbers (nothing without segments)."""
    if not hour.segments:
        return {}
    worst = worst_segments(hour.segments)
    drifted = [s for s, scores in hour.segments.items() if drifted_columns(scores)]
    lines = [
        "| segment | column | metric | value | threshold | drifted columns |",
        "|---|---|---|---:|---:|---|",
        *(
            f"| {w['segment']} | {w['column']} | {w['metric']} | {w['value']:.4g} | "
            f"{w['threshold']:.4g} | {', '.join(w['drifted_columns']) or '–'} |"
            for w in worst
        ),
    ]
    metadata = {
        "segments": dg.MetadataValue.int(len(hour.segments)),
        "drifted_segments": dg.MetadataValue.int(len(drifted)),
        "drifted_segment_names": dg.MetadataValue.json(sorted(drifted)),
        "worst_segments": dg.MetadataValue.md("\n".join(lines)),
    }
    for w in worst[:TOP_SEGMENTS]:
        metadata[f"max_drift_score[{w['segment']}]"] = _number(w["value"])
    return metadata


def multivariate_drift_metadata(hour: WindowScores) -> dict[str, dg.MetadataValue]:
    """The hour's ``__multivariate__`` score and its band (nothing without a model)."""
    results = hour.scores.get(MULTIVARIATE)
    if not results:
        return {}
    result = results[0]
    detail = result.detail
    return {
        "multivariate_drift": _number(result.value),
        "reconstruction_error": _number(detail.get("mean_error")),
        "reconstruction_error_lower": _number(detail.get("lower")),
        "reconstruction_error_upper": _number(detail.get("upper")),
        "multivariate_drifted": dg.MetadataValue.bool(result.drifted),
    }


def multivariate_model_metadata(
    model: ReconstructionModel | None, reason: str | None
) -> dict[str, dg.MetadataValue]:
    """What the baseline's reconstruction model keeps, or why there is none."""
    if model is None:
        return {"multivariate": dg.MetadataValue.text(f"not fitted: {reason}")} if reason else {}
    metadata = {
        "multivariate_components": dg.MetadataValue.int(int(model.components.shape[0])),
        "multivariate_columns": dg.MetadataValue.int(len(model.columns)),
        "multivariate_explained_variance": _number(model.explained),
    }
    if model.dropped:
        metadata["multivariate_dropped"] = dg.MetadataValue.json(dict(model.dropped))
    return metadata


def _confusion_table(performance: Performance) -> str:
    classes = performance.classes
    lines = ["| true \\ predicted | " + " | ".join(classes) + " |"]
    lines.append("|---|" + "---:|" * len(classes))
    for name, row in zip(classes, performance.confusion, strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def hour_performance_metadata(summary: PerformanceSummary) -> dict[str, dg.MetadataValue]:
    """One hour of ``model_performance``: counts, every metric, latency percentiles."""
    performance = summary.performance
    through = summary.labels_through
    metadata: dict[str, dg.MetadataValue] = {
        "window": dg.MetadataValue.text(f"{summary.start.isoformat()} – {summary.end.isoformat()}"),
        "status": dg.MetadataValue.text(performance.status),
        "rows_scored": dg.MetadataValue.int(performance.rows_scored),
        "labelled_rows": dg.MetadataValue.int(performance.labelled_rows),
        "labelled_share": _number(performance.labelled_share),
        "labels_through": dg.MetadataValue.text(through.isoformat() if through else "none"),
    }
    metadata |= {name: _number(value) for name, value in sorted(performance.metrics.items())}
    metadata |= {
        name: _number(summary.latency.quantile(q)) for name, q in LATENCY_QUANTILES.items()
    }
    if performance.confusion:
        metadata["confusion_matrix"] = dg.MetadataValue.md(_confusion_table(performance))
    if performance.probability_rows:  # scores or probabilities: rows used, left out by reason
        metadata["probability_rows"] = dg.MetadataValue.json(performance.probability_rows)
    if summary.labels is not None:
        metadata["labels_arrived_this_hour"] = dg.MetadataValue.int(summary.labels.arrived)
        metadata["labels_unknown_request_id"] = dg.MetadataValue.int(summary.labels.unknown)
        metadata["labels_count_complete"] = dg.MetadataValue.bool(summary.labels.complete)
    for row in versus_rows(performance, summary.baseline):
        metric = row["details"]["metric"]
        metadata[f"baseline_{metric}"] = _number(row["details"]["baseline"])
        metadata[f"{metric}_vs_baseline"] = _number(row["value"])
    return metadata | segment_performance_metadata(summary)


def segment_performance_metadata(summary: PerformanceSummary) -> dict[str, dg.MetadataValue]:
    """The hour's segments: how many, a Markdown table of each one's rows, labels, status and
    judged metric beside the population's, and the cap's notices (nothing without segments)."""
    if not summary.segments:
        return {}
    task = summary.performance.task
    metric = primary_metric(task) if task else None
    population = summary.performance.metrics.get(metric) if metric else None
    lines = [
        f"| segment | rows | labelled | status | {metric or 'metric'} |",
        "|---|---:|---:|---|---:|",
        f"| population | {summary.performance.rows_scored:,} | "
        f"{summary.performance.labelled_rows:,} | {summary.performance.status} | "
        f"{'–' if population is None else f'{population:.4g}'} |",
    ]
    for segment, part in summary.segments.items():
        p = part.performance
        value = p.metrics.get(metric) if metric else None
        lines.append(
            f"| {segment} | {p.rows_scored:,} | {p.labelled_rows:,} | {p.status} | "
            f"{'–' if value is None else f'{value:.4g}'} |"
        )
    metadata = {
        "segments": dg.MetadataValue.int(len(summary.segments)),
        "segment_performance": dg.MetadataValue.md("\n".join(lines)),
    }
    notices = [f.notice for f in summary.folding if f.notice]
    if notices:
        metadata["segment_notice"] = dg.MetadataValue.text("; ".join(notices))
    return metadata


def baseline_performance_metadata(
    baseline: BaselinePerformance | None,
) -> dict[str, dg.MetadataValue]:
    """The validation set's metrics of a new baseline version (nothing without one)."""
    if baseline is None:
        return {}
    metadata = {
        "baseline_version": dg.MetadataValue.text(baseline.version.isoformat()),
        "validation_labelled_rows": dg.MetadataValue.int(baseline.n_labelled),
    }
    return metadata | {
        f"validation_{name}": _number(value) for name, value in sorted(baseline.metrics.items())
    }
