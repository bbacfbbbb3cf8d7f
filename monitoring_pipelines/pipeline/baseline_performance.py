"""The baseline performance: the model's numbers on a labelled validation set, not the training
data (a model scores better on what it was fitted to, so a training-set reference would make
every production hour look like a drop). Fitted with ``baseline_statistics``, one version per
run; every window's performance is then compared with the latest version.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from monitoring_pipelines.config import DeploymentConfig, Role
from monitoring_pipelines.sources.base import read_reference
from monitoring_pipelines.stats.cbpe import CbpeReference, score_edges
from monitoring_pipelines.stats.isotonic import fit_calibrator
from monitoring_pipelines.stats.performance import Performance, accumulator, class_labels
from monitoring_pipelines.store.performance import (
    CBPE_REFERENCE,
    BaselinePerformance,
    read_baseline_performance,
    write_baseline_performance,
)

CALIBRATION_SEED = 0  # the 2-fold split that decides isotonic vs identity


def validation_columns(deployment: DeploymentConfig, frame: pd.DataFrame) -> dict[Role, str]:
    """The prediction, label and (optional) score columns of the validation set, checked."""
    path = deployment.validation.path
    names = {
        role: column.name
        for role in (Role.PREDICTION, Role.LABEL, Role.SCORE)
        if (column := deployment.column_with_role(role)) is not None
    }
    missing = [names[r] for r in (Role.PREDICTION, Role.LABEL) if names[r] not in frame]
    if missing:
        raise ValueError(
            f"deployment {deployment.id!r}: validation set {str(path)!r} lacks column(s) "
            f"{missing} (it needs the prediction and label columns named as in columns)"
        )
    if Role.SCORE in names and names[Role.SCORE] not in frame:
        del names[Role.SCORE]
    absent = {
        c: col for c, col in (deployment.labels.probabilities or {}).items() if col not in frame
    }
    if absent:
        fields = ", ".join(f"labels.probabilities.{c}: {col!r}" for c, col in absent.items())
        raise ValueError(
            f"deployment {deployment.id!r}: validation set {str(path)!r} lacks probability "
            f"column(s) ({fields}): the baseline needs them for ROC AUC and log loss"
        )
    return names


def validation_performance(deployment: DeploymentConfig, frame: pd.DataFrame) -> Performance:
    """The validation set's metrics on its labelled rows (exactly the hourly metrics)."""
    names = validation_columns(deployment, frame)
    labels = deployment.labels
    labelled = frame[frame[names[Role.LABEL]].notna()]
    probabilities = labels.probabilities or {}
    classes = labels.classes if probabilities else None
    acc = accumulator(labels.task, labels.positive_class, classes, labels.probability_tolerance)
    if labels.task == "regression":
        acc.add(labelled[names[Role.LABEL]], labelled[names[Role.PREDICTION]])
    else:
        score = names.get(Role.SCORE)
        scores = labelled[score] if score and labelled[score].notna().all() else None
        acc.add(
            labelled[names[Role.LABEL]],
            labelled[names[Role.PREDICTION]],
            scores,
            {c: labelled[column] for c, column in probabilities.items()} or None,
        )
    return acc.result(len(frame))


def fit_baseline_performance(
    deployment: DeploymentConfig, engine: Engine, version: datetime
) -> BaselinePerformance | None:
    """Score the validation set and store it as baseline version ``version`` (None without a
    ``validation`` block)."""
    if deployment.validation is None:
        return None
    frame = read_reference(deployment.validation.path)
    performance = validation_performance(deployment, frame)
    reference = cbpe_reference(deployment, frame)
    extra = {CBPE_REFERENCE: reference.to_json()} if reference else None
    write_baseline_performance(engine, deployment.id, version, performance, extra)
    return read_baseline_performance(engine, deployment.id, version)


def cbpe_reference(deployment: DeploymentConfig, frame: pd.DataFrame) -> CbpeReference | None:
    """The calibrator (isotonic where it lowers the calibration error, seeded) and score bins
    for CBPE, from the validation set's labelled scored rows: binary tasks with a score."""
    names = validation_columns(deployment, frame)
    if deployment.labels.task != "binary" or Role.SCORE not in names:
        return None
    rows = frame[frame[names[Role.LABEL]].notna() & frame[names[Role.SCORE]].notna()]
    if rows.empty:
        return None
    scores = rows[names[Role.SCORE]].to_numpy(dtype=float)
    positive = class_labels(rows[names[Role.LABEL]]) == deployment.labels.positive_class
    calibrator = fit_calibrator(scores, positive, np.random.default_rng(CALIBRATION_SEED))
    return CbpeReference(calibrator, score_edges(scores))
