"""Pure statistics (no Dagster): profiles, drift metrics, windows, decisions.

The drift re-exports load on first use (PEP 562), so processes that only profile
never import scipy (about 60 MB of resident memory).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitoring_pipelines.stats.drift import DriftResult, score, score_column

__all__ = ["DriftResult", "score", "score_column"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("monitoring_pipelines.stats.drift"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
