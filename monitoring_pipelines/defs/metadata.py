"""Dagster metadata built from profiles, so the UI can show and plot each materialization."""

import dagster as dg

from monitoring_pipelines.pipeline.aggregation import WindowSummary
from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.stats.dataset import DatasetProfile


def profile_metadata(profile: DatasetProfile) -> dict[str, dg.MetadataValue]:
    """Row count, columns and missing counts of one profile."""
    missing = profile.missing_counts
    table = "\n".join(
        ["| column | kind | count | missing |", "|---|---|---:|---:|"]
        + [
            f"| {name} | {p.kind.value} | {p.count} | {missing[name]} |"
            for name, p in profile.columns.items()
        ]
    )
    metadata = {
        "row_count": dg.MetadataValue.int(profile.row_count),
        "columns": dg.MetadataValue.json(sorted(profile.columns)),
        "missing_counts": dg.MetadataValue.json(missing),
        "missing_total": dg.MetadataValue.int(sum(missing.values())),
        "profile": dg.MetadataValue.md(table),
    }
    if profile.absent_columns:
        metadata["absent_columns"] = dg.MetadataValue.json(list(profile.absent_columns))
    return metadata


def windows_metadata(summaries: list[WindowSummary]) -> dict[str, dg.MetadataValue]:
    """Metadata of a run over one or many windows: the totals and a row per window."""
    if len(summaries) == 1:
        only = summaries[0]
        return profile_metadata(only.profile) | {
            "window": dg.MetadataValue.text(f"{only.start.isoformat()} – {only.end.isoformat()}"),
        }
    table = "\n".join(
        ["| deployment | window start | rows | missing |", "|---|---|---:|---:|"]
        + [
            f"| {s.deployment_id} | {s.start:%Y-%m-%d %H:%M} | {s.rows} | "
            f"{sum(s.profile.missing_counts.values())} |"
            for s in summaries
        ]
    )
    return {
        "windows": dg.MetadataValue.int(len(summaries)),
        "row_count": dg.MetadataValue.int(sum(s.rows for s in summaries)),
        "first_window": dg.MetadataValue.text(summaries[0].start.isoformat()),
        "last_window": dg.MetadataValue.text(summaries[-1].start.isoformat()),
        "per_window": dg.MetadataValue.md(table),
    }


def _number(value: float | None) -> dg.MetadataValue:
    return dg.MetadataValue.float(float(value)) if value is not None else dg.MetadataValue.null()


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


def drift_metadata(results: list[WindowScores]) -> dict[str, dg.MetadataValue]:
    """What the UI plots over time: the largest drift, drifted columns, model signals."""
    hours = [r for r in results if r.granularity == "hour"]
    latest = hours[-1]
    largest = latest.max_drift
    metadata: dict[str, dg.MetadataValue] = {
        "window": dg.MetadataValue.text(f"{latest.start.isoformat()} – {latest.end.isoformat()}"),
        "max_drift_score": _number(largest[2] if largest else None),
        "max_drift": dg.MetadataValue.text(f"{largest[0]} {largest[1]}" if largest else "none"),
        "drifted_columns": dg.MetadataValue.int(len(latest.drifted_columns)),
        "drifted_column_names": dg.MetadataValue.json(latest.drifted_columns),
        "rows": dg.MetadataValue.int(latest.rows),
        "scores": dg.MetadataValue.md(_scores_table(latest)),
    }
    signals = latest.signals
    if signals is not None:
        metadata |= {
            "prediction_drift": _number(
                signals.prediction_drift.value if signals.prediction_drift else None
            ),
            "mean_confidence": _number(signals.mean_confidence),
            "confidence_drop": _number(signals.confidence_drop),
            "low_confidence_share": _number(signals.low_confidence_share),
        }
    if len(hours) > 1:
        rows = [
            f"| {h.deployment_id} | {h.start:%Y-%m-%d %H:%M} | {h.rows} | "
            f"{', '.join(h.drifted_columns) or '–'} |"
            for h in hours
        ]
        metadata["windows"] = dg.MetadataValue.int(len(hours))
        metadata["per_window"] = dg.MetadataValue.md(
            "\n".join(
                ["| deployment | hour | rows | drifted columns |", "|---|---|---:|---|", *rows]
            )
        )
    return metadata
