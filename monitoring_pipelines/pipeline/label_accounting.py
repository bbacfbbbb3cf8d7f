"""Labels for unknown request ids, counted: every label row is accounted for.

A label is matched when its request id is among the requests of some hour; each hour stores
how many label rows it matched per arrival hour (``labels_matched``). The labels that
arrived in hour A for unknown request ids are then the rows that arrived in A minus those
the hours of ``[A − label_horizon_hours, A]`` matched (a request is scored before its label
arrives). The count is ``complete`` once each of those stored hours was computed with
labels through the end of A; until then it is an upper bound (late_labels_sensor recomputes
the hours whose labels changed, which completes it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, select

from monitoring_pipelines.sources.labels import ARRIVED_AT, LabelSource
from monitoring_pipelines.store.performance import LABELS_MATCHED, REALIZED
from monitoring_pipelines.store.schema import model_performance
from monitoring_pipelines.store.times import utc

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LabelAccount:
    """The label rows that arrived in one hour: read, matched to a request, unknown."""

    arrived: int
    matched: int
    complete: bool

    @property
    def unknown(self) -> int:
        return self.arrived - self.matched


def arrival_hours(frame: pd.DataFrame) -> Counter[str]:
    """Label rows per arrival hour (ISO start of the hour, UTC)."""
    hours = pd.to_datetime(frame[ARRIVED_AT], utc=True).dt.floor("h")
    return Counter(moment.isoformat() for moment in hours)


def account_hour(
    engine: Engine,
    deployment_id: str,
    labels: LabelSource,
    start: datetime,
    horizon: timedelta,
    own: Counter[str],
) -> LabelAccount:
    """The labels that arrived in ``[start, start + 1 h)``, given this hour's own matches
    ``own`` and the stored matches of the earlier hours within ``horizon``."""
    start = utc(start)
    arrived = sum(len(chunk) for chunk in labels.read_arrived(start, start + HOUR))
    table = model_performance.c
    query = select(table.details, table.labels_through).where(
        table.deployment_id == deployment_id,
        table.kind == REALIZED,
        table.metric == LABELS_MATCHED,
        table.window_start >= start - horizon,
        table.window_start < start,
    )
    key = start.isoformat()
    matched, complete = own.get(key, 0), True
    with engine.connect() as conn:
        for details, through in conn.execute(query):
            matched += int(details.get(key, 0))
            complete &= through is not None and utc(through) >= start + HOUR
    return LabelAccount(arrived, matched, complete)
