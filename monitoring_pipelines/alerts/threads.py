"""Which drift message a resolved notice belongs to: pure pairing over the outbox timeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from monitoring_pipelines.stats.alert_policy import DRIFT, RESOLVED
from monitoring_pipelines.stats.references import TRAINING
from monitoring_pipelines.stats.segments import ALL

ResultKey = tuple[str, str, str, str]


def result_key(row: Mapping[str, Any]) -> ResultKey:
    """(column, metric, reference, segment) of an outbox row (rows from before references:
    training; from before segments: the population)."""
    reference = row.get("reference") or TRAINING
    return row["column_name"], row["metric"], reference, row.get("segment") or ALL


def pair_resolutions(timeline: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Resolved row id → the drift row it resolves: the latest drift alert of the same
    (column, metric, reference, segment) before it. ``timeline`` is one deployment's rows in window
    order."""
    latest: dict[ResultKey, Mapping[str, Any]] = {}
    pairs: dict[int, Mapping[str, Any]] = {}
    for row in timeline:
        key = result_key(row)
        if row["kind"] == DRIFT:
            latest[key] = row
        elif row["kind"] == RESOLVED and key in latest:
            pairs[row["id"]] = latest.pop(key)
    return pairs


def resolutions_of(
    message_ts: str,
    timeline: Iterable[Mapping[str, Any]],
    pairs: Mapping[int, Mapping[str, Any]],
    excluded_statuses: frozenset[str] = frozenset(),
) -> dict[ResultKey, datetime]:
    """(column, metric, reference, segment) → window start of the resolved notice, for every
    result of the message ``message_ts`` that has resolved (notices in ``excluded_statuses``
    ignored)."""
    resolved = {}
    for row in timeline:
        original = pairs.get(row["id"])
        if (
            original is not None
            and original["slack_ts"] == message_ts
            and row["slack_status"] not in excluded_statuses
        ):
            resolved[result_key(row)] = row["window_start"]
    return resolved
