"""The multivariate cost benchmark at a tiny size, so the script keeps working."""

from __future__ import annotations

import re

from benchmarks.multivariate_cost import multivariate_cost


def test_the_benchmark_times_profiling_and_the_multivariate_step():
    rows = multivariate_cost(rows=3_000, repeats=1, reference_rows=2_000)
    names = [row.what for row in rows]
    assert names[0] == "machine facts" and "profile, 1 thread" in names
    assert "multivariate" in names
    ratio = rows[-1]
    assert ratio.met is not None and re.fullmatch(r"\d+\.\d\d×", ratio.ratio)
