"""Run one benchmark step in a child process and measure its wall time and peak RSS.

Every contender (ours and each peer) is measured the same way: a fresh process,
the compute time the child reports for its own work (imports and loading
excluded), and the child's peak resident memory read from its own
``/proc/self/status`` (VmHWM). The kernel's ``ru_maxrss`` from ``wait4`` is not
used: on Linux a child inherits its parent's high-water mark across fork/exec,
so every child of a parent holding 1 GB would report at least 1 GB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ChildRun:
    """What one child reported, its wall time, and its whole-process peak RSS (MB)."""

    wall_seconds: float
    peak_rss_mb: float
    report: dict


def run_child(module: str, args: list[str], python: str = sys.executable) -> ChildRun:
    """Run ``python -m module args`` from the repository root; raise with its stderr on failure."""
    with tempfile.TemporaryFile(mode="w+") as err:
        start = time.perf_counter()
        proc = subprocess.run(
            [python, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True
        )
        wall = time.perf_counter() - start
        err.seek(0)
        errors = err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed with exit code {proc.returncode}:\n{errors[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(
            f"{module} printed no JSON report:\n{proc.stdout[-2000:]}\n{errors[-2000:]}"
        )
    report = json.loads(lines[-1])
    return ChildRun(wall, max(report.get("load_peak_mb", 0.0), report["work_peak_mb"]), report)
