"""The profiling path never imports scipy; the drift re-exports of stats load on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROFILING_PATH = (
    "monitoring_pipelines.stats",
    "monitoring_pipelines.stats.binning",
    "monitoring_pipelines.stats.profile",
    "monitoring_pipelines.stats.dataset",
    "monitoring_pipelines.sources.parquet",
)


def run(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("module", PROFILING_PATH)
def test_profiling_modules_do_not_import_scipy(module):
    assert run(f"import sys, {module}; print('scipy' in sys.modules)") == "False"


def test_drift_names_load_on_first_use():
    code = (
        "import sys, monitoring_pipelines.stats.dataset; "
        "before = 'scipy' in sys.modules; "
        "from monitoring_pipelines.stats import DriftResult, score, score_column; "
        "from monitoring_pipelines.stats import drift; "
        "assert score is drift.score and score_column is drift.score_column; "
        "assert DriftResult is drift.DriftResult; "
        "print(before, 'scipy' in sys.modules, score('tvd', ['a', 'b'], ['a', 'a']).value)"
    )
    assert run(code) == "False True 0.5"


def test_unknown_names_raise_attribute_error():
    import monitoring_pipelines.stats as stats

    assert {"DriftResult", "score", "score_column"} <= set(dir(stats))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        stats.nope  # noqa: B018
