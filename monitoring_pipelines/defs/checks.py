"""Asset checks, each reported per hour (see ``per_partition``).

On ``hourly_aggregates``: great-expectations validations of each hour's raw batch,
learned from the baseline (``monitoring_pipelines.quality``); one check per kind of
expectation, the hour's failing columns in its metadata, ``data_freshness``, failing on
an hour with no rows or far fewer than usual (``stats.freshness``), and ``rows_accounted``,
failing on an hour whose logs held rows no hour profiles (stamped far from their folder's
hour, not stamped, not an event) or rows repeating a request id. On ``drift_scores``: ``drift``,
failing on an hour where any column drifted, so the partitions view marks those hours.
"""

import dagster as dg

from monitoring_pipelines.defs.per_partition import PartitionCheck, partitioned_check_spec
from monitoring_pipelines.pipeline.aggregation import WindowSummary
from monitoring_pipelines.pipeline.drift import WindowScores
from monitoring_pipelines.quality import CHECKS
from monitoring_pipelines.store.aggregates import LOST_ROWS

DRIFT_CHECK = "drift"
FRESHNESS_CHECK = "data_freshness"
ROWS_CHECK = "rows_accounted"


def rows_check_spec(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        ROWS_CHECK,
        asset,
        partitions_def,
        "fails on an hour whose logs held rows it did not profile as read: stamped more "
        "than an hour from their folder's hour (rows_out_of_window), not stamped "
        "(rows_null_timestamp), not an event (rows_undecodable, Kafka), or repeating a "
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


def quality_check_specs(
    asset: str, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    return [
        partitioned_check_spec(name, asset, partitions_def, description)
        for name, description in CHECKS.items()
    ]


def quality_check_outcomes(summary: WindowSummary) -> tuple[PartitionCheck, ...]:
    """One outcome per great-expectations check for one hour."""
    outcomes = []
    for result in summary.quality:
        rows = [
            f"| {t.column} | "
            + ("absent" if t.missing_column else f"{t.unexpected_fraction:.1%} of {t.elements}")
            + f" | {1 - t.mostly:.1%} |"
            for t in result.failures
        ]
        table = "\n".join(["| column | unexpected | allowed |", "|---|---:|---:|", *rows])
        outcomes.append(
            PartitionCheck(
                result.check,
                result.passed,
                {
                    "failing_columns": dg.MetadataValue.json(
                        sorted({t.column for t in result.failures})
                    ),
                    "failures": dg.MetadataValue.md(table if rows else "no failures"),
                },
            )
        )
    return tuple(outcomes)


def drift_check_spec(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        DRIFT_CHECK,
        asset,
        partitions_def,
        "fails on an hour where any monitored column drifted (any metric past its threshold)",
    )


def drift_check_outcome(hour: WindowScores) -> PartitionCheck:
    """The ``drift`` check of one hour: passed when no column drifted."""
    drifted = hour.drifted_columns
    return PartitionCheck(
        DRIFT_CHECK,
        not drifted,
        {
            "drifted_columns": dg.MetadataValue.int(len(drifted)),
            "drifted_column_names": dg.MetadataValue.json(drifted),
        },
        description=f"drifted: {', '.join(drifted)}" if drifted else "no column drifted",
    )
