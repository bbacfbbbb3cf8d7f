"""Partitions: deployments from ``monitors.yaml``, and hour × deployment for everything hourly."""

from datetime import UTC, datetime

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig

HOUR_FORMAT = "%Y-%m-%d-%H:%M"


def deployment_partitions(config: MonitorsConfig) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(config.ids)


def hourly_partitions(config: MonitorsConfig) -> dg.MultiPartitionsDefinition:
    """Hours from the earliest deployment start, crossed with the deployments."""
    return dg.MultiPartitionsDefinition(
        {
            "hour": dg.HourlyPartitionsDefinition(
                start_date=config.start.strftime(HOUR_FORMAT), timezone="UTC", fmt=HOUR_FORMAT
            ),
            "deployment": deployment_partitions(config),
        }
    )


def backfill_policy(config: MonitorsConfig) -> dg.BackfillPolicy:
    """``defaults.backfill.policy``: a range as one run, or as runs of ``chunk_hours`` hours."""
    backfill = config.defaults.backfill
    if backfill.policy == "multi_run":
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=backfill.chunk_hours)
    return dg.BackfillPolicy.single_run()


def hour_key(deployment_id: str, hour: datetime) -> dg.MultiPartitionKey:
    """The partition key of one deployment's hour."""
    return dg.MultiPartitionKey({"deployment": deployment_id, "hour": hour.strftime(HOUR_FORMAT)})


def windows_of(context: dg.AssetExecutionContext) -> list[tuple[str, datetime]]:
    """(deployment, hour start) for every partition of this run: one, or a single-run backfill."""
    partitions_def = context.assets_def.partitions_def
    windows = []
    for key in context.partition_keys:
        dims = partitions_def.get_partition_key_from_str(key).keys_by_dimension
        start = datetime.strptime(dims["hour"], HOUR_FORMAT).replace(tzinfo=UTC)
        windows.append((dims["deployment"], start))
    return sorted(windows)
