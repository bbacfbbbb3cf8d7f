"""Asset checks, each reported per hour (see ``per_partition``).

On ``hourly_aggregates``: ``raw_data_quality``, the great-expectations suite learned from
the baseline run on each hour's raw batch (``monitoring_pipelines.quality``), one result
per hour with each group of expectations (``raw_schema``, ``raw_missing_values``,
``raw_value_ranges``, ``raw_allowed_categories``) and the failing columns in its metadata:
one check event per hour instead of four, the cost a long backfill pays per check and
hour in Dagster's storage; ``data_freshness``, failing on an hour with no rows or far
fewer than usual (``stats.freshness``); and ``rows_accounted``, failing on an hour whose
logs held rows no hour profiles (stamped far from their folder's hour, not stamped, not an
event) or rows repeating a request id. On ``drift_scores``: ``drift``,
failing on an hour where any column drifted, so the partitions view marks those hours: with
severity ERROR when the population drifted, WARN when only segments did.
"""

import dagster as dg

from monitoring_pipelines.defs.per_partition import PartitionCheck, partitioned_check_spec
from monitoring_pipelines.pipeline.aggregation import WindowSummary
from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.quality import CHECKS
from monitoring_pipelines.stats.scoring import drifted_columns
from monitoring_pipelines.store.aggregates import LOST_ROWS

DRIFT_CHECK = "drift"
FRESHNESS_CHECK = "data_freshness"
QUALITY_CHECK = "raw_data_quality"
ROWS_CHECK = "rows_accounted"


def rows_check_spec(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        ROWS_CHECK,
        asset,
        partitions_def,
        "fails on an hour whose logs held rows it did not profile as read: stamped more "
        "than an hour from their folder's hour (rows_out_of_window), not stamped "
        "(rows_null_timestamp; in a SQL table counted once, by the first hour written after "
        "they appear), not an event (rows_undecodable, Kafka), or repeating a "
        "request id (duplicate_request_ids); rows filed one folder off are read by their "
        "own hour (rows_misfiled, rows_from_neighbours) and pass",
    )


def rows_check_outcome(summary: WindowSummary) -> tuple[PartitionCheck, ...]:
    """The ``rows_accounted`` check of one hour: passed when every row read was profiled once."""
    counts = summary.accounted
    problems = [f"{rows} {name}" for name, rows in counts.items() if rows and name in LOST_ROWS]
    return (
        PartitionCheck(
            ROWS_CHECK,
            not problems,
            {"rows": dg.MetadataValue.int(summary.rows)}
            | {name: dg.MetadataValue.int(rows) for name, rows in counts.items()},
            description="; ".join(problems)
            if problems
            else "every row read was profiled once"
            if counts
            else "this source does not count dropped rows",
        ),
    )


def freshness_check_spec(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        FRESHNESS_CHECK,
        asset,
        partitions_def,
        "fails on an hour with no rows (no_data) or below 10% of the usual rows for that hour "
        "of day (low_volume), learned from the stored hours of the week before",
    )


def freshness_check_outcome(summary: WindowSummary) -> tuple[PartitionCheck, ...]:
    """The ``data_freshness`` check of one hour (none when it was not judged)."""
    freshness = summary.freshness
    if freshness is None:
        return ()
    expected = freshness.expected_rows
    return (
        PartitionCheck(
            FRESHNESS_CHECK,
            freshness.fresh,
            {
                "status": dg.MetadataValue.text(freshness.status),
                "rows": dg.MetadataValue.int(freshness.rows),
                "expected_rows": dg.MetadataValue.null()
                if expected is None
                else dg.MetadataValue.float(expected),
            },
            description=f"{freshness.status}: {freshness.reason}",
        ),
    )


def quality_check_spec(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    groups = "; ".join(f"{name}: {text}" for name, text in CHECKS.items())
    return partitioned_check_spec(
        QUALITY_CHECK,
        asset,
        partitions_def,
        f"great-expectations suite learned from the baseline, on each hour's raw rows ({groups})",
    )


def quality_check_outcome(summary: WindowSummary) -> tuple[PartitionCheck, ...]:
    """The ``raw_data_quality`` check of one hour: passed when every expectation passed;
    each group's verdict, the failing columns and their numbers in the metadata."""
    if not summary.quality:
        return ()
    failures = [t for result in summary.quality for t in result.failures]
    rows = [
        f"| {t.check} | {t.column} | "
        + ("absent" if t.missing_column else f"{t.unexpected_fraction:.1%} of {t.elements}")
        + f" | {1 - t.mostly:.1%} |"
        for t in failures
    ]
    header = ["| expectations | column | unexpected | allowed |", "|---|---|---:|---:|"]
    failed = [r.check for r in summary.quality if not r.passed]
    metadata = {r.check: dg.MetadataValue.bool(r.passed) for r in summary.quality}
    table = "\n".join(header + rows) if rows else "no failures"
    return (
        PartitionCheck(
            QUALITY_CHECK,
            not failed,
            {
                **metadata,
                "expectations": dg.MetadataValue.int(sum(len(r.tallies) for r in summary.quality)),
                "failing_columns": dg.MetadataValue.json(sorted({t.column for t in failures})),
                "failures": dg.MetadataValue.md(table),
            },
            description=f"failed: {', '.join(failed)}" if failed else "every expectation passed",
        ),
    )


def drift_check_spec(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        DRIFT_CHECK,
        asset,
        partitions_def,
        "fails on an hour where any monitored column drifted (any metric past its threshold): "
        "severity ERROR when the population's column drifted, WARN when only segments did "
        "(the drifted segment × column pairs in the metadata)",
    )


SEGMENT_PAIRS_SHOWN = 10  # segment × column pairs listed in the check's Markdown


def drifted_segment_pairs(hour: WindowScores) -> list[tuple[str, str]]:
    """(segment, column) of every segment's drifted column in the hour, sorted."""
    return sorted(
        (segment, column)
        for segment, scores in hour.segments.items()
        for column in drifted_columns(scores)
    )


def drift_check_outcome(hour: WindowScores) -> PartitionCheck:
    """The ``drift`` check of one hour: passed when no column drifted, neither in the
    population nor in any segment. A population drift fails it with severity ERROR; drift in
    segments only (the population stable) with WARN, so the hour a segment alert names is not
    green in the UI. ``drifted_columns`` stays the population's."""
    drifted = hour.drifted_columns
    pairs = drifted_segment_pairs(hour)
    shown = [f"- {segment}: {column}" for segment, column in pairs[:SEGMENT_PAIRS_SHOWN]]
    if len(pairs) > SEGMENT_PAIRS_SHOWN:
        shown.append(f"- … and {len(pairs) - SEGMENT_PAIRS_SHOWN} more")
    metadata = {
        "drifted_columns": dg.MetadataValue.int(len(drifted)),
        "drifted_column_names": dg.MetadataValue.json(drifted),
    }
    if hour.segments:
        metadata |= {
            "drifted_segments": dg.MetadataValue.int(len({s for s, _ in pairs})),
            "drifted_segment_columns": dg.MetadataValue.int(len(pairs)),
            "segment_drift": dg.MetadataValue.md("\n".join(shown) or "no segment drifted"),
        }
    listed = ", ".join(f"{segment} {column}" for segment, column in pairs[:SEGMENT_PAIRS_SHOWN])
    if len(pairs) > SEGMENT_PAIRS_SHOWN:
        listed += f" and {len(pairs) - SEGMENT_PAIRS_SHOWN} more"
    in_segments = f"; in segments: {listed}" if pairs else ""
    if drifted:
        description = f"drifted: {', '.join(drifted)}{in_segments}"
    elif pairs:
        description = f"population stable{in_segments}"
    else:
        description = "no column drifted"
    return PartitionCheck(
        DRIFT_CHECK,
        not drifted and not pairs,
        metadata,
        severity=dg.AssetCheckSeverity.ERROR if drifted else dg.AssetCheckSeverity.WARN,
        description=description,
    )
