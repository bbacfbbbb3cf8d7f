"""Dagster metadata built from profiles, so the UI can show and plot each materialization."""

import dagster as dg

from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.tasks import WindowSummary


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
