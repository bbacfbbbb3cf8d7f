"""Segments: slices of a deployment's traffic (a region, a channel, a model version).

A segment key is a column, a combination of columns, or a column whose values a mapping
renames (``model_version`` 2.3.1 → ``canary``). A segment is named by its key and values,
``region=eu`` or ``region=eu,channel=web``; the whole population is the segment ``__all__``.
A key keeps at most ``max_values`` segment values per window: the rest fold into
``__other__`` and are counted (``SegmentCodes.folded``), never dropped; a row whose key
column is missing belongs to ``__missing__``. Which values the cap keeps is decided by the
same fixed hash as the categorical cap (``profile.fold_rank``), so the kept set does not
depend on how the rows were split into chunks, and profiles of chunks merge exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ALL = "__all__"  # the whole population
OTHER = "__other__"  # segment values folded by the cap (or unmapped by a value mapping)
MISSING = "__missing__"  # rows whose key column is null
RESERVED = (ALL, OTHER, MISSING)
DEFAULT_MAX_VALUES = 50
SEPARATOR = ","


@dataclass(frozen=True)
class SegmentKey:
    """One way to slice the traffic: the columns, an optional value mapping (one column
    only), the cap on segment values kept per window and the rows a segment needs to be
    scored (None: the deployment's ``min_rows``)."""

    columns: tuple[str, ...]
    values: Mapping[str, str] | None = None
    max_values: int = DEFAULT_MAX_VALUES
    min_rows: int | None = None
    baseline: str = "segment"  # "segment": the reference rows of the segment; "population"

    @property
    def name(self) -> str:
        """The key's name: ``region`` or ``region,channel``."""
        return SEPARATOR.join(self.columns)

    def label(self, values: tuple[str, ...]) -> str:
        """The segment's name for the values of the key's columns: ``region=eu``."""
        return SEPARATOR.join(f"{c}={v}" for c, v in zip(self.columns, values, strict=True))

    def folded_label(self) -> str:
        """The name of the segment holding the values the cap folded: ``region=__other__``."""
        return self.label((OTHER,) * len(self.columns))
