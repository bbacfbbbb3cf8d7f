"""A window's metrics share each column's sizes (``window_tasks`` takes them once per column):
every result of ``score_window`` equals ``score_column`` of its column and metric alone, sizes
and ``insufficient_data`` included, on small, all-missing and categorical windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring_pipelines.stats.dataset import fit_baseline, profile_frame
from monitoring_pipelines.stats.drift import score_column
from monitoring_pipelines.stats.scoring import score_window

KINDS = {"x": "numerical", "n": "numerical", "c": "categorical"}


def _frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "n": rng.poisson(2 + shift, n).astype(float),
            "c": rng.choice(["a", "b", None, "new" if shift else "a"], n),
        }
    )


def test_each_result_has_the_sizes_of_its_column_scored_alone() -> None:
    rng = np.random.default_rng(11)
    baseline = fit_baseline(_frame(2000, rng, 0.0), KINDS, n_bins=10)
    empty = _frame(300, rng, 0.0).assign(x=np.nan, c=None)
    windows = [profile_frame(f, baseline) for f in (_frame(900, rng, 0.7), _frame(30, rng, 0.0))]
    windows.append(profile_frame(empty, baseline))
    metrics = {
        "x": ["psi", "ks", "missing_rate"],
        "n": ["wasserstein"],
        "c": ["tvd", "missing_rate"],
    }
    seen = set()
    for window in windows:
        scores = score_window(baseline, window, metrics=metrics, min_rows=100, correction="none")
        for name, results in scores.items():
            for result in results:
                alone = score_column(
                    result.metric, baseline.columns[name], window.columns[name], min_rows=100
                )
                assert result == alone, (name, result.metric)
                seen.add(result.status)
    assert "insufficient_data" in seen and len(seen) > 1
