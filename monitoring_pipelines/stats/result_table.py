"""One window's drift results held column-oriented: one list per field of
:class:`~monitoring_pipelines.stats.drift.DriftResult`, a result per position, in
``score_window``'s order (the baseline's columns, each column's metrics in turn).

A batch of windows (``stats.batch_scoring``) judges its results in array operations and
writes them (``store.drift``) from these lists; most results are never read as objects (the
rolled-up windows of a run go to the store only), so the ``DriftResult`` objects are built
the first time the table is read as a mapping, and only then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from monitoring_pipelines.stats.drift import DriftResult

FIELDS = (
    "metric",
    "value",
    "p_value",
    "threshold",
    "status",
    "drifted",
    "reference_size",
    "current_size",
    "detail",
)  # DriftResult's fields, in its order


class ResultTable(Mapping[str, tuple[DriftResult, ...]]):
    """A window's results, column → results like ``score_window``'s dict, stored as lists.

    ``names`` are the baseline's columns (the mapping's keys, in order); ``column`` names each
    result's column and the other lists are :data:`FIELDS`, position for position. The lists
    are read, never changed, once the table is built.
    """

    __slots__ = ("names", "column", *FIELDS, "_results")

    def __init__(
        self,
        names: Sequence[str],
        column: Sequence[str],
        metric: Sequence[str],
        value: Sequence[float | None],
        p_value: Sequence[float | None],
        threshold: Sequence[float],
        status: Sequence[str],
        drifted: Sequence[bool],
        reference_size: Sequence[int],
        current_size: Sequence[int],
        detail: Sequence[Mapping[str, Any]],
    ) -> None:
        self.names = tuple(names)
        self.column, self.metric, self.value, self.p_value = column, metric, value, p_value
        self.threshold, self.status, self.drifted = threshold, status, drifted
        self.reference_size, self.current_size, self.detail = reference_size, current_size, detail
        sizes = {len(getattr(self, name)) for name in ("column", *FIELDS)}
        if len(sizes) != 1:
            raise ValueError(f"a result table's fields differ in length: {sorted(sizes)}")
        self._results: dict[str, tuple[DriftResult, ...]] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __getitem__(self, name: str) -> tuple[DriftResult, ...]:
        return self.results()[name]

    def __repr__(self) -> str:
        return f"ResultTable({len(self.metric)} results over {len(self.names)} columns)"

    def results(self) -> dict[str, tuple[DriftResult, ...]]:
        """The results as ``DriftResult`` objects per column (built once, on the first read)."""
        if self._results is None:
            grouped: dict[str, list[DriftResult]] = {name: [] for name in self.names}
            fields = [getattr(self, name) for name in FIELDS]
            for name, *values in zip(self.column, *fields, strict=True):
                grouped[name].append(DriftResult(*values))
            self._results = {name: tuple(results) for name, results in grouped.items()}
        return self._results
