"""Which categories moved most between a baseline and a window, to explain a categorical drift.

Pure: two categorical profiles in, the ``top`` categories by absolute change of share out
(new categories flagged). Shares are of the non-missing values, folded ones included, so
they match the proportions the distribution metrics compare.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping

from monitoring_pipelines.stats.profile import CategoricalProfile, NumericalProfile, category_key

DEFAULT_TOP = 3


def category_shifts(
    reference: CategoricalProfile, current: CategoricalProfile, top: int = DEFAULT_TOP
) -> list[dict[str, object]]:
    """The ``top`` categories with the largest |current share − reference share|, largest
    first (ties by name), each as ``{value, reference_share, current_share, new}``."""
    if top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    known = set(reference.counts) | set(current.reference_categories)
    return _shifts(reference.counts, current.counts, reference.count, current.count, known, top)


def value_shifts(
    reference: NumericalProfile, current: NumericalProfile, top: int = DEFAULT_TOP
) -> list[dict[str, object]]:
    """:func:`category_shifts` for a discrete numerical column, over its exact value counts
    (shares of the finite values; values shown as category keys, 48.0 as ``48``)."""
    if top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    if reference.values is None or current.values is None:
        return []
    known = {category_key(v) for v in (*reference.values, *current.reference_values)}
    ref = {category_key(v): n for v, n in reference.values.items()}
    cur = {category_key(v): n for v, n in current.values.items()}
    return _shifts(ref, cur, reference.n_finite, current.n_finite, known, top)


def _shifts(
    ref: Mapping[str, int],
    cur: Mapping[str, int],
    ref_total: int,
    cur_total: int,
    known: Collection[str],
    top: int,
) -> list[dict[str, object]]:
    if not ref_total or not cur_total:
        return []
    shares = [
        (-abs(now - before), value, before, now)
        for value in set(ref) | set(cur)
        for before, now in [(ref.get(value, 0) / ref_total, cur.get(value, 0) / cur_total)]
    ]
    return [  # the top of the order (largest change, then name), without sorting them all
        {"value": value, "reference_share": before, "current_share": now, "new": value not in known}
        for _, value, before, now in heapq.nsmallest(top, shares, key=_order)
    ]


def _order(share: tuple) -> tuple:
    return share[0], share[1]
