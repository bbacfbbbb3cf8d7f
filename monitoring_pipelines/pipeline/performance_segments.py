"""Performance per segment, in the same pass as the population's.

The hour's predictions are held once (request id, prediction, score, latency and the segment
key columns); each row gets its segment under every key, capped as the aggregation caps it
(``stats.segmented.row_segments``: the same kept values, the rest in ``<key>=__other__``).
The labelled rows are then accumulated chunk by chunk into the population's accumulator and
into their segments' (one group-by of the chunk per key), so a segment's numbers are those
of its own labelled rows and the segments of a key add up to the population. A segment with
fewer labelled rows than the key's ``min_rows`` (default: the deployment's) is
``insufficient_data``: no metric values, but its confusion matrix (or regression sums) and
latency sketch are stored, so a day of a small segment can still be judged from its hours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import (
    ClassificationAccumulator,
    Performance,
    RegressionAccumulator,
)
from monitoring_pipelines.stats.segmented import Folding, row_segments
from monitoring_pipelines.stats.segments import SegmentKey

INSUFFICIENT_DATA = "insufficient_data"
UNLABELLED = "unlabelled"  # a deployment without a labels block
PREFIX = "\x00segment:"  # the hour frame's column holding a key's segment names

Accumulator = ClassificationAccumulator | RegressionAccumulator


@dataclass(frozen=True)
class SegmentPerformance:
    """One segment's hour: its performance (``insufficient_data`` below ``min_rows``
    labelled rows), its latency sketch, and whether the sketch's percentiles are shown."""

    performance: Performance
    latency: LatencySketch
    min_rows: int

    @property
    def judged(self) -> bool:
        return self.performance.rows_scored >= self.min_rows


def key_column(key: SegmentKey) -> str:
    return PREFIX + key.name


def label_segments(hour: pd.DataFrame, keys: Sequence[SegmentKey]) -> tuple[Folding, ...]:
    """Add each key's segment names to ``hour`` (one column per key); what each cap folded."""
    foldings = []
    for key in keys:
        names, folding = row_segments(hour, key)
        hour[key_column(key)] = names
        foldings.append(folding)
    return tuple(foldings)


class SegmentAccumulators:
    """The labelled rows of every segment of every key, added chunk by chunk (``make``:
    a new accumulator; None for a deployment without labels)."""

    def __init__(self, keys: Sequence[SegmentKey], make: Callable[[], Accumulator] | None):
        self.keys = list(keys)
        self.make = make
        self.accumulators: dict[str, Accumulator] = {}

    def add(self, part: pd.DataFrame, add: Callable[[Accumulator, pd.DataFrame], None]) -> None:
        for key in self.keys:
            for segment, rows in part.groupby(key_column(key), sort=False):
                acc = self.accumulators.get(str(segment))
                if acc is None:
                    acc = self.accumulators[str(segment)] = self.make()
                add(acc, rows)

    def results(
        self,
        hour: pd.DataFrame,
        scored: pd.DataFrame,
        latency: str | None,
        min_rows: int,
    ) -> dict[str, SegmentPerformance]:
        """Each segment's performance: ``scored`` is the hour's distinct requests (rows
        scored), ``hour`` every row read (the latency sketch's rows, as the population's)."""
        out: dict[str, SegmentPerformance] = {}
        for key in self.keys:
            column = key_column(key)
            counts = scored[column].value_counts()
            sketches = _latencies(hour, column, latency)
            need = key.min_rows or min_rows
            for segment, rows in counts.items():
                segment = str(segment)
                if self.make is None:
                    performance = Performance(None, UNLABELLED, int(rows), 0)
                else:
                    acc = self.accumulators.get(segment)
                    performance = (acc or self.make()).result(int(rows))
                if self.make is not None and performance.labelled_rows < need:
                    performance = replace(
                        performance, status=INSUFFICIENT_DATA, metrics={}, per_class={}
                    )
                out[segment] = SegmentPerformance(
                    performance, sketches.get(segment, LatencySketch()), need
                )
        return dict(sorted(out.items()))


def _latencies(hour: pd.DataFrame, column: str, latency: str | None) -> dict[str, LatencySketch]:
    if latency is None or latency not in hour:
        return {}
    return {
        str(segment): LatencySketch.from_values(values)
        for segment, values in hour.groupby(column, sort=False)[latency]
    }
