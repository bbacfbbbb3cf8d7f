"""Multivariate drift in the pipeline: the reconstruction model fitted with the baseline, and
the ``__multivariate__`` score of a window (``stats.multivariate`` does the work)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from monitoring_pipelines.config import DeploymentConfig
from monitoring_pipelines.stats.dataset import DatasetProfile
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.multivariate import (
    METRIC,
    MultivariateUnavailable,
    ReconstructionModel,
    fit_reconstruction,
    with_multivariate,
)


def fit_multivariate(
    deployment: DeploymentConfig, reference: pd.DataFrame, baseline: DatasetProfile, n_bins: int
) -> tuple[DatasetProfile, ReconstructionModel | None, str | None]:
    """The baseline with its reference errors, the model, and why there is none (else None)."""
    settings = deployment.drift.multivariate
    if not settings.enabled:
        return baseline, None, "disabled (drift.multivariate.enabled is false)"
    try:
        model, errors = fit_reconstruction(
            reference,
            deployment.features,
            variance=settings.variance,
            chunks=settings.chunks,
            n_bins=n_bins,
        )
    except MultivariateUnavailable as error:
        return baseline, None, str(error)
    return replace(baseline, multivariate=errors), model, None


def multivariate_scores(
    deployment: DeploymentConfig,
    scores: dict[str, tuple[DriftResult, ...]],
    model: ReconstructionModel | None,
    baseline: DatasetProfile,
    window: DatasetProfile,
    min_rows: int,
) -> dict[str, tuple[DriftResult, ...]]:
    """The column scores plus ``__multivariate__`` when the baseline has a model (its
    threshold, in σ, is ``drift.thresholds.reconstruction_error``, 3 by default)."""
    return with_multivariate(
        scores,
        model,
        baseline.multivariate,
        window.multivariate,
        threshold=deployment.drift.thresholds.get(METRIC),
        min_rows=min_rows,
    )
