"""``make screenshots``: the README's pictures of the Dagster UI and of the HTML report, taken
from a real demo.

It runs the demo into a temporary ``DAGSTER_HOME`` (its 72 hours ending at the last complete
hour, so the UI's partition plots, which show the partition space's last 120 hours, hold
them), writes the report of its last day (which spans the retraining: the drifted hours
against baseline v1, the retrained ones against v2), starts ``dagster-webserver`` over that instance
on a free port, drives headless Chromium through the pages, and writes small PNGs (256-colour
palettes) to ``docs/images``, each checked to show something. About two minutes, most of it
the demo. ``--home DIR`` reuses (or keeps) a demo home between runs.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from tools.browser import Browser, non_blank

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEPLOYMENT = "credit_risk"
HOURS, DRIFT_FROM = 72, 48
MAX_BYTES = 300_000
WIDTH, HEIGHT = 1440, 900


def _env(home: Path) -> dict[str, str]:
    """The demo's environment: its own instance and SQLite store, no Slack, no AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AWS_"))}
    env.pop("MONITORING_DATABASE_URL", None)
    return env | {"DAGSTER_HOME": str(home), "MONITORS_CONFIG": str(REPO / "monitors.yaml")}


def _last_complete_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _command(argv: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        done = subprocess.run(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = log.read_text().splitlines()[-20:]
        raise SystemExit(f"{' '.join(argv[:2])} failed ({done.returncode}):\n" + "\n".join(tail))


def prepare(home: Path, env: dict[str, str]) -> tuple[datetime, Path]:
    """The demo in ``home`` (generated unless already there) and its last day's report."""
    marker = home / "demo_end.txt"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        end = _last_complete_hour()
        print(f"demo: {HOURS} hours ending {end:%Y-%m-%d %H:%M} UTC into {home}", flush=True)
        _command(
            [str(BIN / "monitoring-pipelines"), "demo", "--end", f"{end:%Y-%m-%dT%H:%M}"],
            env,
            home / "demo.log",
        )
        marker.write_text(end.isoformat())
    end = datetime.fromisoformat(marker.read_text())
    report = home / "report.html"
    _command(
        [
            str(BIN / "monitoring-pipelines"),
            "report",
            "--deployment",
            DEPLOYMENT,
            "--start",
            f"{end - timedelta(hours=24):%Y-%m-%dT%H:%M}",
            "--end",
            f"{end:%Y-%m-%dT%H:%M}",
            "--output",
            str(report),
        ],
        env,
        home / "report.log",
    )
    return end, report


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Webserver:
    """``dagster-webserver`` over the demo's instance, in its own session so it stops whole."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [
                *(str(BIN / "dagster-webserver"), "-m", "monitoring_pipelines.definitions"),
                *("-h", "127.0.0.1", "-p", port),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SystemExit(f"dagster-webserver exited ({self._process.returncode})")
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=5):
                    return
            except OSError:
                time.sleep(1)
        raise SystemExit(f"dagster-webserver did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._log.close()


def _find(
    text: str, last: bool = False, prefix: bool = False, among: str = "button, a, [role=tab]"
) -> str:
    """JavaScript for the element (a button, link or tab unless ``among`` says otherwise) whose
    visible text is, or starts with, ``text``."""
    pick = ".at(-1)" if last else "[0]"
    test = "startsWith" if prefix else "localeCompare"
    match = f"e.innerText.trim().{test}('{text}')" + ("" if prefix else " === 0")
    return f"[...document.querySelectorAll('{among}')].filter(e => e.innerText && {match}){pick}"


def _loaded(*texts: str) -> str:
    """JavaScript: the page shows every one of ``texts`` and no spinner."""
    shown = " && ".join(f"document.body.innerText.includes('{t}')" for t in texts)
    spinner = "document.querySelector('.bp5-spinner, [role=progressbar]')"
    return f"document.body && {shown} && !{spinner}"


def _click(browser: Browser, target: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not browser.evaluate(f"Boolean({target})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing to click: {target}")
        time.sleep(0.25)
    browser.evaluate(f"{target}.scrollIntoView({{block: 'center'}}); {target}.click()")


def _dismiss_welcome(browser: Browser, base: str) -> None:
    """A fresh instance greets with a newsletter dialog: skip it (the instance remembers)."""
    browser.open(f"{base}/assets", _loaded("baseline_statistics"), settle=3)
    skip = _find("Skip")
    if browser.evaluate(f"Boolean({skip})"):
        browser.evaluate(f"{skip}.click()")
        time.sleep(1)


@dataclass(frozen=True)
class Shot:
    """One picture: a page, what it must show, what to click first, where to scroll."""

    name: str
    path: str
    shows: tuple[str, ...]
    clicks: tuple[str, ...] = ()
    scroll_to: str | None = None
    then_shows: tuple[str, ...] = ()


def ui_shots(first_drifted: str) -> list[Shot]:
    drifted = f"{DEPLOYMENT}|{first_drifted}"
    return [
        Shot(
            "ui_partitions.png",
            f"/assets/drift_scores?view=partitions&partition={drifted}",
            ("Materialized (72)", "max_drift_score"),
        ),
        Shot(
            "ui_drift_check.png",
            "/assets/drift_scores?view=checks",
            ("drift", "Execution history"),
            clicks=(_find("Partitions", last=True),),
            then_shows=("Failed",),
        ),
        Shot(
            "ui_plots.png",
            "/assets/drift_scores",
            ("Metadata",),
            clicks=(_find("Plots"),),
            scroll_to=_find("Plots"),
            then_shows=("max_drift_score",),
        ),
        Shot(
            "ui_quality_checks.png",
            "/assets/hourly_aggregates?view=checks",
            ("raw_data_quality", "data_freshness"),
            clicks=(
                _find("raw_data_quality", prefix=True, among="[class*=checkRow]"),
                _find("Partitions", last=True),
            ),
            then_shows=("Failed (", "Passed ("),
        ),
    ]


def take(browser: Browser, base: str, shot: Shot) -> bytes:
    """Open the page, click through, scroll, and take the viewport."""
    png = browser.open(base + shot.path, _loaded(*shot.shows), settle=2)
    for target in shot.clicks:
        _click(browser, target)
    if shot.then_shows:
        png = browser.capture(_loaded(*shot.then_shows), settle=3)
    if shot.scroll_to:
        browser.evaluate(f"{shot.scroll_to}.scrollIntoView({{block: 'start'}})")
        png = browser.capture("true", settle=2)
    return png


def optimize(png: bytes) -> bytes:
    """The same picture as a 256-colour palette PNG: a fraction of the bytes, text still sharp."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def save(folder: Path, name: str, png: bytes) -> Path:
    """Write one screenshot after checking it shows something and is small."""
    small = optimize(png)
    if not non_blank(small):
        raise SystemExit(f"{name}: the screenshot is blank")
    if len(small) > MAX_BYTES:
        raise SystemExit(f"{name}: {len(small):,} bytes, over {MAX_BYTES:,}")
    path = folder / name
    path.write_bytes(small)
    print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(small):,} bytes")
    return path


def report_shots(report: Path, folder: Path) -> None:
    """The report as it renders in Chromium: its top (summary, column × metric table) and the
    first column's charts (baseline vs production, score over time with its threshold)."""
    with Browser(width=WIDTH, height=1200) as browser:
        visit = browser.visit(report)
        if visit.rendered != "done" or visit.console_errors or visit.requests:
            raise SystemExit(f"the report did not render cleanly: {visit.console_errors}")
        save(folder, "report.png", visit.screenshot)
        browser.evaluate("document.getElementById('column-0').scrollIntoView({block: 'start'})")
        save(folder, "report_column.png", browser.capture(settle=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--home", type=Path, help="demo DAGSTER_HOME to reuse or keep")
    parser.add_argument("--only-report", action="store_true", help="skip the Dagster UI")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = None
    if args.home is None:
        scratch = tempfile.TemporaryDirectory(prefix="mp-screenshots-")
        args.home = Path(scratch.name)
    try:
        env = _env(args.home)
        end, report = prepare(args.home, env)
        report_shots(report, args.out)
        if args.only_report:
            return 0
        first_drifted = end - timedelta(hours=HOURS - DRIFT_FROM)
        server = Webserver(env, args.home / "webserver.log")
        try:
            server.wait()
            with Browser(width=WIDTH, height=HEIGHT) as browser:
                _dismiss_welcome(browser, server.url)
                for shot in ui_shots(f"{first_drifted:%Y-%m-%d-%H:%M}"):
                    save(args.out, shot.name, take(browser, server.url, shot))
        finally:
            server.stop()
    finally:
        if scratch is not None:
            scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
