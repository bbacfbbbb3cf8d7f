"""Pure statistics (no Dagster): profiles, drift metrics, windows, decisions."""

from monitoring_pipelines.stats.drift import DriftResult, score, score_column

__all__ = ["DriftResult", "score", "score_column"]
