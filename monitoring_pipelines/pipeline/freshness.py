"""Freshness of stored hours (``stats.freshness``), judged on the row counts in ``aggregates``:
what the ``data_freshness`` check, the ``no_data`` alert and the CloudWatch metric report."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from monitoring_pipelines.stats.freshness import (
    HISTORY_DAYS,
    Freshness,
    expected_rows,
    judge_freshness,
)
from monitoring_pipelines.store.aggregates import read_hour_volumes

HOUR = timedelta(hours=1)


def hours_freshness(
    engine: Engine,
    deployment_id: str,
    hours: Iterable[datetime],
    hours_with_files: Collection[datetime] | None = None,
) -> dict[datetime, Freshness]:
    """Each stored hour's freshness against the stored hours of the week before it (an hour
    not in ``aggregates`` is left out: it was never profiled); ``hours_with_files`` (when the
    source can tell) names a missing file as the reason."""
    hours = sorted(hours)
    if not hours:
        return {}
    volumes = read_hour_volumes(
        engine, deployment_id, hours[0] - timedelta(days=HISTORY_DAYS), hours[-1] + HOUR
    )
    return {
        hour: judge_freshness(
            volumes[hour],
            expected_rows(volumes, hour),
            None if hours_with_files is None else hour in hours_with_files,
        )
        for hour in hours
        if hour in volumes
    }
