"""``monitor(model, logger)``: log every ``predict`` / ``predict_proba`` call of a model.

The wrapper answers exactly what the model answers; each input row is logged as one request
with its own generated request id (``last_request_ids`` holds the ids of the calling thread's
last call, to send labels later), the call's latency, and the outputs: the prediction, and
for ``predict_proba`` the predicted class, its probability as confidence and, for two classes,
the positive class's probability as score (and every class's probability, when the deployment's
``labels.probabilities`` names their columns). A server that already knows its requests' ids or
times passes ``request_ids=`` / ``timestamps=`` with the call; ``timer`` (seconds, default
``time.perf_counter``) is what latency is measured with, so a simulation or a replay can bring
its own clock. Logging never breaks the answer: a logging error is counted in
``logging_errors`` and the prediction is returned.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from monitoring_pipelines.traffic.logger import MonitoringLogger

log = logging.getLogger("monitoring_pipelines.traffic")


class MonitoredModel:
    """A proxy of ``model`` whose ``predict`` and ``predict_proba`` are logged; every other
    attribute is the model's own."""

    def __init__(
        self,
        model: Any,
        logger: MonitoringLogger,
        feature_names: Sequence[str] | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.model = model
        self.logger = logger
        self.feature_names = None if feature_names is None else list(feature_names)
        self.timer = timer
        self.logging_errors = 0
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    @property
    def last_request_ids(self) -> list[str]:
        """Request ids of this thread's last call, one per input row."""
        return list(getattr(self._local, "request_ids", []))

    def predict(
        self,
        X: Any,
        *,
        request_ids: Sequence[str] | None = None,
        timestamps: Sequence[datetime] | None = None,
        **kwargs: Any,
    ) -> Any:
        started = self.timer()
        predictions = self.model.predict(X, **kwargs)
        latency_ms = (self.timer() - started) * 1000.0
        self._log(X, np.asarray(predictions), None, None, latency_ms, request_ids, timestamps)
        return predictions

    def predict_proba(
        self,
        X: Any,
        *,
        request_ids: Sequence[str] | None = None,
        timestamps: Sequence[datetime] | None = None,
        **kwargs: Any,
    ) -> Any:
        started = self.timer()
        probabilities = self.model.predict_proba(X, **kwargs)
        latency_ms = (self.timer() - started) * 1000.0
        proba = np.asarray(probabilities)
        classes = np.asarray(getattr(self.model, "classes_", np.arange(proba.shape[1])))
        predictions = classes[proba.argmax(axis=1)]
        scores = proba[:, 1] if proba.shape[1] == 2 else None
        confidences = proba.max(axis=1)
        # each class's probability, where the deployment names their columns (multiclass)
        per_class = (
            {str(c): proba[:, i] for i, c in enumerate(classes)}
            if self.logger.schema.probabilities
            else None
        )
        self._log(
            X, predictions, confidences, scores, latency_ms, request_ids, timestamps, per_class
        )
        return probabilities

    def _log(
        self,
        X: Any,
        predictions: np.ndarray,
        confidences: np.ndarray | None,
        scores: np.ndarray | None,
        latency_ms: float,
        request_ids: Sequence[str] | None,
        timestamps: Sequence[datetime] | None,
        per_class: dict[str, np.ndarray] | None = None,
    ) -> None:
        if request_ids is None or len(request_ids) != len(predictions):
            ids = [str(uuid.uuid4()) for _ in range(len(predictions))]
        else:
            ids = [str(r) for r in request_ids]
        try:
            if request_ids is not None and len(request_ids) != len(predictions):
                raise ValueError(
                    f"{len(request_ids)} request ids for {len(predictions)} input rows"
                )
            self.logger.log_batch(
                self._frame(X),
                predictions,
                request_ids=ids,
                confidences=confidences,
                scores=scores,
                probabilities=per_class,
                latency_ms=latency_ms,
                timestamps=timestamps,
            )
        except Exception as error:  # the model's answer matters more than its log
            self.logging_errors += 1
            log.warning("logging a %s call failed: %s", type(self.model).__name__, error)
        self._local.request_ids = ids

    def _frame(self, X: Any) -> pd.DataFrame:
        """The input rows as a DataFrame with column names (the model's when it has them)."""
        if isinstance(X, pd.DataFrame):
            return X
        values = np.asarray(X)
        if values.ndim == 1:
            values = values.reshape(1, -1)
        names = self.feature_names or getattr(self.model, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(values.shape[1])]
        return pd.DataFrame(values, columns=list(names))


def monitor(
    model: Any,
    logger: MonitoringLogger,
    feature_names: Sequence[str] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> MonitoredModel:
    """Wrap ``model`` so every ``predict`` / ``predict_proba`` call is logged to ``logger``."""
    if not any(hasattr(model, method) for method in ("predict", "predict_proba")):
        raise TypeError(f"{type(model).__name__} has neither predict nor predict_proba")
    return MonitoredModel(model, logger, feature_names, timer)
