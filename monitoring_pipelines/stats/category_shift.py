"""Which categories moved most between a baseline and a window, to explain a categorical drift.

Pure: two categorical profiles in, the ``top`` categories by absolute change of share out
(new categories flagged). Shares are of the non-missing values, folded ones included, so
they match the proportions the distribution metrics compare.
"""

from __future__ import annotations

from monitoring_pipelines.stats.profile import CategoricalProfile

DEFAULT_TOP = 3


def category_shifts(
    reference: CategoricalProfile, current: CategoricalProfile, top: int = DEFAULT_TOP
) -> list[dict[str, object]]:
    """The ``top`` categories with the largest |current share − reference share|, largest
    first (ties by name), each as ``{value, reference_share, current_share, new}``."""
    if top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    ref_total, cur_total = reference.count, current.count
    if not ref_total or not cur_total:
        return []
    known = set(reference.counts) | set(current.reference_categories)
    shifts = [
        {
            "value": category,
            "reference_share": reference.counts.get(category, 0) / ref_total,
            "current_share": current.counts.get(category, 0) / cur_total,
            "new": category not in known,
        }
        for category in set(reference.counts) | set(current.counts)
    ]
    shifts.sort(key=lambda s: (-abs(s["current_share"] - s["reference_share"]), s["value"]))
    return shifts[:top]
