"""Which categories moved most between a baseline and a window, to explain a categorical drift.

Pure: two categorical profiles in, the ``top`` categories by absolute change of share out
(new categories flagged). Shares are of the non-missing values, folded ones included, so
they match the proportions the distribution metrics compare.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from itertools import repeat

import numpy as np

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
    values = list(ref.keys() | cur.keys())
    size = len(values)
    # counts below 2**53 are exact floats, so each share is the correctly rounded quotient
    # Python's int / int gives, bit for bit
    before = np.fromiter(map(ref.get, values, repeat(0)), np.float64, size) / ref_total
    now = np.fromiter(map(cur.get, values, repeat(0)), np.float64, size) / cur_total
    change = np.abs(now - before)
    chosen = range(size)
    if size > top:  # only the changes as large as the top-th can be in the top (ties by name)
        chosen = np.flatnonzero(change >= np.partition(change, size - top)[size - top]).tolist()
    ranked = sorted(chosen, key=lambda i: (-change[i], values[i]))[:top]
    return [
        {
            "value": values[i],
            "reference_share": float(before[i]),
            "current_share": float(now[i]),
            "new": values[i] not in known,
        }
        for i in ranked
    ]
