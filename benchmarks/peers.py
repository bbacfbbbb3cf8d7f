"""Part 2: ours next to Evidently, whylogs and NannyML on the same Parquet files.

Every contender runs in a fresh child process of its own venv and is measured the
same way (compute time reported by the child, peak RSS from the kernel).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import ChildRun, run_child
from benchmarks.table import Row


@dataclass(frozen=True)
class Contender:
    """One peer run: which venv, which job, and the speed-up we must reach over it."""

    label: str
    venv: str
    module: str
    args: tuple[str, ...] = ()
    target: float | None = None


REPEATS = 3
REPEAT_BELOW = 5.0
CONTENDERS = (
    Contender(
        "NannyML univariate drift (KS, chi²)",
        "nannyml",
        "benchmarks.jobs.nannyml_drift",
        ("--methods", "ks_chi2"),
        3.0,
    ),
    Contender(
        "NannyML univariate drift (Jensen–Shannon)",
        "nannyml",
        "benchmarks.jobs.nannyml_drift",
        ("--methods", "jensen_shannon"),
    ),
    Contender("whylogs profile", "whylogs", "benchmarks.jobs.whylogs_profile", (), 15.0),
    Contender(
        "Evidently data drift report", "evidently", "benchmarks.jobs.evidently_report", (), 35.0
    ),
)


def _fastest(module: str, args: list[str], python: str) -> ChildRun:
    """The fastest of :data:`REPEATS` runs for contenders quicker than :data:`REPEAT_BELOW`
    seconds (where noise matters most), else the single run; the same rule for everyone."""
    runs = [run_child(module, args, python)]
    if runs[0].report["seconds"] < REPEAT_BELOW:
        runs += [run_child(module, args, python) for _ in range(REPEATS - 1)]
    return min(runs, key=lambda run: run.report["seconds"])


def _figure(run: ChildRun) -> str:
    report = run.report
    return (
        f"{report['seconds']:.2f} s compute ({run.wall_seconds:.1f} s process); "
        f"peak {report['work_peak_mb']:,.0f} MB during the work, "
        f"+{report['work_peak_mb'] - report['rss_loaded_mb']:,.0f} MB over the loaded data "
        f"({run.peak_rss_mb:,.0f} MB with loading)"
    )


def peers_side_by_side(
    reference: Path, production: Path, pythons: dict[str, str | None], rows: int
) -> list[Row]:
    """Time and peak memory of ours and of each installed peer, with the ratios."""
    part = f"2 peers ({rows:,} rows, reference as in part 1)"
    paths = [str(reference), str(production)]
    ours = _fastest("benchmarks.jobs.ours_profile", paths, sys.executable)
    loading, fit = ours.report["kernel_load_seconds"], ours.report["fit_seconds"]
    figure = (
        f"{_figure(ours)}; fit_baseline {fit:.2f} s of it; {ours.report['threads']} threads; "
        f"compiled kernels loaded before, with the imports: {loading:.2f} s"
    )
    table = [Row(part, "ours: fit_baseline + profile_frame", figure)]
    for peer in CONTENDERS:
        python = pythons.get(peer.venv)
        if python is None:
            table.append(Row(part, peer.label, "not installed", target=_target(peer), met=False))
            continue
        run = _fastest(peer.module, [*paths, *peer.args], python)
        speedup = run.report["seconds"] / ours.report["seconds"]
        memory = run.report["work_peak_mb"] / ours.report["work_peak_mb"]
        overall = run.peak_rss_mb / ours.peak_rss_mb
        met = None if peer.target is None else speedup >= peer.target and memory > 1.0
        table.append(
            Row(
                part,
                peer.label,
                _figure(run),
                f"ours {speedup:.1f}× faster; peak {memory:.2f}× lower "
                f"({overall:.2f}× with loading)",
                _target(peer),
                met,
            )
        )
    return table


def _target(peer: Contender) -> str:
    return "" if peer.target is None else f"≥ {peer.target:g}× faster, lower peak"
