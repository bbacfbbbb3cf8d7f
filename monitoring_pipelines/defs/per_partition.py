"""Report each partition of a run on its own: its metadata and its asset-check results.

A single-run backfill is one step over many partitions. Dagster writes one
materialization per partition of the run, with the metadata its accumulator holds for that
partition (what ``context.add_asset_metadata(..., partition_key=...)`` adds).
:func:`add_partitions_metadata` fills it for all partitions at once: Dagster's call lists
every partition of the run's range to validate its one key and copies the whole
accumulator, so a month of hours through it is quadratic (about 0.1 s per hour of a
720-hour run, more than the hour's profiling). Dagster's
``AssetCheckResult`` cannot name a partition (in a range run it is one result for all of
them), so each check is logged as an ``AssetCheckEvaluation`` with ``partition=`` and
the partition's new materialization as its target, after the materializations, as
Dagster does for its own check results: the UI then shows per hour whether the check
passed on that hour's latest data. The check spec must be partitioned
(``partitioned_check_spec``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.execution.context.metadata_logging import (
    AssetMetadataHandle,
    OutputMetadataAccumulator,
)


@dataclass(frozen=True)
class PartitionCheck:
    """One check's result on one partition."""

    name: str
    passed: bool
    metadata: Mapping[str, dg.MetadataValue] = field(default_factory=dict)
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN
    description: str | None = None


@dataclass(frozen=True)
class PartitionReport:
    """What one partition of a run recorded: its metadata and its checks' outcomes."""

    partition_key: str
    metadata: Mapping[str, dg.MetadataValue]
    checks: tuple[PartitionCheck, ...] = ()


def partitioned_check_spec(
    name: str, asset: str, partitions_def: dg.PartitionsDefinition, description: str
) -> dg.AssetCheckSpec:
    """A check spec whose results are kept per partition of ``asset``.

    Dagster 1.13 marks ``partitions_def`` on a check spec as a preview; it is what makes
    the check's status per partition rather than one status overwritten by each run.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, description=description, partitions_def=partitions_def
        )


def _materializations_of_run(
    context: dg.AssetExecutionContext, key: dg.AssetKey, partition_keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """This run's materialization of ``key`` per partition: what each check evaluated.

    Read from the asset index (whose storage ids the UI compares), in one query.
    """
    run_id = context.run.run_id
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partition_keys),
        limit=len(partition_keys),
    ).records
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=run_id, timestamp=record.timestamp
        )
        for record in records
        if record.run_id == run_id and record.partition_key is not None
    }


def add_partitions_metadata(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    metadata: Mapping[str, Mapping[str, dg.MetadataValue]],
) -> None:
    """``context.add_asset_metadata(m, asset_key=key, partition_key=p)`` for every ``p: m`` of
    ``metadata``, in one pass: the same checks (each partition is one of the run's) and the
    same accumulator entries, built once instead of once per partition (Dagster 1.13's
    step context keeps them in ``_metadata_accumulator``)."""
    targeted = {str(p) for p in context.partition_keys}
    stray = [p for p in metadata if p not in targeted]
    if stray:
        raise dg.DagsterInvariantViolationError(
            f"metadata for partition {stray[0]!r} of {key.to_user_string()}, which this run "
            f"does not target ({len(targeted)} partitions from {min(targeted)!r})"
        )
    step = context.get_step_execution_context()
    entries = dict(step._metadata_accumulator.per_output_metadata)
    for partition, values in metadata.items():
        handle = AssetMetadataHandle(asset_key=key, partition_key=partition)
        entries[handle] = {**entries.get(handle, {}), **values}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=entries)


def report_partitions(
    context: dg.AssetExecutionContext,
    asset: str,
    reports: Iterable[PartitionReport],
    complete: bool = True,
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """The asset body's events: one materialization per partition with its own metadata,
    then each partition's check results. Checks not selected for the run are left out.

    Not ``complete`` (some partitions of the run failed; the body raises afterwards): only
    the reported partitions are materialized, each by its own event.
    """
    key = dg.AssetKey(asset)
    reports = list(reports)
    if complete:
        add_partitions_metadata(context, key, {r.partition_key: r.metadata for r in reports})
        yield dg.MaterializeResult(asset_key=key)
    else:
        for report in reports:
            yield dg.AssetMaterialization(
                key, partition=report.partition_key, metadata=report.metadata
            )
    selected = {k.name for k in context.selected_asset_check_keys if k.asset_key == key}
    if not any(c.name in selected for r in reports for c in r.checks):
        return
    targets = _materializations_of_run(context, key, [r.partition_key for r in reports])
    for report in reports:
        for outcome in report.checks:
            if outcome.name in selected:
                yield dg.AssetCheckEvaluation(
                    asset_key=key,
                    check_name=outcome.name,
                    passed=outcome.passed,
                    metadata=outcome.metadata,
                    severity=outcome.severity,
                    description=outcome.description,
                    target_materialization_data=targets.get(report.partition_key),
                    partition=report.partition_key,
                )
