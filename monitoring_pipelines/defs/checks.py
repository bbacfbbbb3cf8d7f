"""Asset checks on ``hourly_aggregates``: great-expectations validations of each hour's raw batch.

The expectations come from the baseline (``monitoring_pipelines.quality``); one check
per kind of expectation, failing hours and columns listed in its metadata.
"""

import dagster as dg

from monitoring_pipelines.pipeline.aggregation import WindowSummary
from monitoring_pipelines.quality import CHECKS


def quality_check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name, asset=asset, description=description)
        for name, description in CHECKS.items()
    ]


def quality_check_results(summaries: list[WindowSummary]) -> list[dg.AssetCheckResult]:
    """One result per check over every hour of the run: failed if any hour failed."""
    results = []
    for name in CHECKS:
        failures = [
            (summary, tally)
            for summary in summaries
            for outcome in summary.quality
            if outcome.check == name
            for tally in outcome.failures
        ]
        rows = [
            f"| {s.deployment_id} | {s.start:%Y-%m-%d %H:%M} | {t.column} | "
            + ("absent" if t.missing_column else f"{t.unexpected_fraction:.1%} of {t.elements}")
            + f" | {1 - t.mostly:.1%} |"
            for s, t in failures
        ]
        table = "\n".join(
            [
                "| deployment | hour | column | unexpected | allowed |",
                "|---|---|---|---:|---:|",
                *rows,
            ]
        )
        results.append(
            dg.AssetCheckResult(
                check_name=name,
                passed=not failures,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "hours_checked": dg.MetadataValue.int(len(summaries)),
                    "hours_failed": dg.MetadataValue.int(len({s.start for s, _ in failures})),
                    "failing_columns": dg.MetadataValue.json(
                        sorted({t.column for _, t in failures})
                    ),
                    "failures": dg.MetadataValue.md(table if rows else "no failures"),
                },
            )
        )
    return results
