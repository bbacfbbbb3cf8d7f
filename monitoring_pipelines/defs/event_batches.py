"""What the batched event logs (SQLite and PostgreSQL) share: which events are asset events,
the batch cut into runs of consecutive asset events of one run, and each asset's row in
``asset_keys`` as storing the events one by one would leave it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any

from dagster._core.events import ASSET_EVENTS

if TYPE_CHECKING:
    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage


def is_asset_event(event: EventLogEntry) -> bool:
    """A materialization, planned materialization or observation, with its asset."""
    return (
        event.dagster_event is not None
        and event.dagster_event_type in ASSET_EVENTS
        and event.dagster_event.asset_key is not None
    )


def asset_event_runs(events: Sequence[EventLogEntry]) -> Iterator[tuple[bool, list]]:
    """The batch in order, cut where the run or the kind (asset event or not) changes."""
    for (_, asset_events), group in groupby(
        events, key=lambda event: (event.run_id, is_asset_event(event))
    ):
        yield asset_events, list(group)


def latest_asset_values(
    storage: SqlEventLogStorage,
    events: Sequence[EventLogEntry],
    ids: Sequence[int],
    has_index_columns: bool,
) -> dict[str, dict[str, Any]]:
    """Each asset's ``asset_keys`` columns after its events in order (as ``storage`` derives
    an event's): an event sets only its own columns, so later events' win, and every asset of
    the batch has an entry (empty when no event set a column)."""
    latest: dict[str, dict[str, Any]] = {}
    for event, event_id in zip(events, ids, strict=True):
        key = event.get_dagster_event().asset_key.to_string()
        values = storage._get_asset_entry_values(event, event_id, has_index_columns)
        latest.setdefault(key, {}).update(values)
    return latest
