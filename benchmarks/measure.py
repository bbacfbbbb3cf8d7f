"""Run one benchmark step in a child process and measure its wall time and peak RSS.

Every contender (ours and each peer) is measured the same way: a fresh process,
peak resident memory from ``wait4`` (the kernel's ru_maxrss for that child), and
the compute time the child reports for its own work, excluding imports and loading.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ChildRun:
    """What one child reported, plus what the parent measured from outside."""

    wall_seconds: float
    peak_rss_mb: float
    report: dict


def run_child(module: str, args: list[str], python: str = sys.executable) -> ChildRun:
    """Run ``python -m module args`` from the repository root; raise with its stderr on failure."""
    with tempfile.TemporaryFile(mode="w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [python, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True
        )
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        errors = err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed with exit code {proc.returncode}:\n{errors[-4000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} printed no JSON report:\n{out[-2000:]}\n{errors[-2000:]}")
    return ChildRun(wall, usage.ru_maxrss / 1024, json.loads(lines[-1]))
