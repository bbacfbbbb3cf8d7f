"""Freshness of stored hours (``stats.freshness``), judged on the row and file counts in
``aggregates``: what the ``data_freshness`` check, the ``no_data`` alert and the CloudWatch
metric report."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from monitoring_pipelines.stats.freshness import (
    DEFAULT_POLICY,
    Freshness,
    FreshnessPolicy,
    expected_rows,
    judge_freshness,
)
from monitoring_pipelines.store.aggregates import read_hour_volumes

HOUR = timedelta(hours=1)


def hours_freshness(
    engine: Engine,
    deployment_id: str,
    hours: Iterable[datetime],
    policy: FreshnessPolicy = DEFAULT_POLICY,
) -> dict[datetime, Freshness]:
    """Each stored hour's freshness against the stored hours of the days before it (an hour
    not in ``aggregates`` is left out: it was never profiled); an empty hour whose source
    counted 0 log files says so."""
    hours = sorted(hours)
    if not hours:
        return {}
    since = hours[0] - timedelta(days=policy.history_days)
    volumes = read_hour_volumes(engine, deployment_id, since, hours[-1] + HOUR)
    rows = {hour: n for hour, (n, _) in volumes.items()}
    return {
        hour: judge_freshness(
            rows[hour],
            expected_rows(rows, hour, policy),
            None if volumes[hour][1] is None else volumes[hour][1] > 0,
            policy,
        )
        for hour in hours
        if hour in volumes
    }
