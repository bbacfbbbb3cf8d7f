"""The baseline performance: the model's numbers on a labelled validation set, not the training
data (a model scores better on what it was fitted to, so a training-set reference would make
every production hour look like a drop). Fitted with ``baseline_statistics``, one version per
run; every window's performance is then compared with the latest version.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from monitoring_pipelines.config import DeploymentConfig, Role
from monitoring_pipelines.sources.base import read_reference
from monitoring_pipelines.stats.performance import Performance, accumulator
from monitoring_pipelines.store.performance import (
    BaselinePerformance,
    read_baseline_performance,
    write_baseline_performance,
)


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
    return names


def validation_performance(deployment: DeploymentConfig, frame: pd.DataFrame) -> Performance:
    """The validation set's metrics on its labelled rows (exactly the hourly metrics)."""
    names = validation_columns(deployment, frame)
    labels = deployment.labels
    labelled = frame[frame[names[Role.LABEL]].notna()]
    acc = accumulator(labels.task, labels.positive_class)
    if labels.task == "regression":
        acc.add(labelled[names[Role.LABEL]], labelled[names[Role.PREDICTION]])
    else:
        score = names.get(Role.SCORE)
        scores = labelled[score] if score and labelled[score].notna().all() else None
        acc.add(labelled[names[Role.LABEL]], labelled[names[Role.PREDICTION]], scores)
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
    write_baseline_performance(engine, deployment.id, version, performance)
    return read_baseline_performance(engine, deployment.id, version)
