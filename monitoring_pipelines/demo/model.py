"""The demo's credit model: a histogram gradient-boosted classifier that handles NaN and
categories natively (unseen categories are treated as missing), trained in about a second.

Training and scoring run on one OpenMP thread: the demo data is small, and on a busy
two-core machine OpenMP's spin-waiting made training up to 40x slower (13 s vs 0.3 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from monitoring_pipelines.demo.applicants import CATEGORICAL, FEATURES


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns, categoricals as pandas categories (what the model expects)."""
    features = frame.loc[:, list(FEATURES)]
    return features.astype({name: "category" for name in CATEGORICAL})


def train_model(
    frame: pd.DataFrame, labels: np.ndarray, seed: int
) -> HistGradientBoostingClassifier:
    """Fit the classifier on the reference applicants and their outcomes."""
    model = HistGradientBoostingClassifier(
        max_iter=80,
        max_leaf_nodes=15,
        learning_rate=0.1,
        early_stopping=False,
        categorical_features="from_dtype",
        random_state=seed,
    )
    with threadpool_limits(limits=1, user_api="openmp"):
        return model.fit(model_input(frame), labels)


def score(model: HistGradientBoostingClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's outputs: predicted_class, confidence (the max class probability) and
    score (the probability of default)."""
    with threadpool_limits(limits=1, user_api="openmp"):
        probability = model.predict_proba(model_input(frame))
    return pd.DataFrame(
        {
            "predicted_class": model.classes_[probability.argmax(axis=1)].astype(np.int64),
            "confidence": probability.max(axis=1),
            "score": probability[:, list(model.classes_).index(1)],
        },
        index=frame.index,
    )
