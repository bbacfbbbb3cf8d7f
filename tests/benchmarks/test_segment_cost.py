"""The segments cost benchmark at a tiny size, so the script keeps working."""

from __future__ import annotations

import re

from benchmarks.segment_cost import segment_cost


def test_the_benchmark_times_the_hour_with_and_without_segments():
    rows = segment_cost(rows=4_000, segments=20, repeats=1, reference_rows=2_000, chunk_rows=1_000)
    names = [row.what for row in rows]
    assert names[:3] == ["machine facts", "unsegmented hour", "20 segments in the same read"]
    ratio = rows[-1]
    assert ratio.met is not None and re.fullmatch(r"\d+\.\d\d×", ratio.ratio)
