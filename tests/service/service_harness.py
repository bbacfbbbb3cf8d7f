"""The production service as the README starts it, for end-to-end tests: a database of its own
on the PostgreSQL server, a temporary DAGSTER_HOME, two small deployments on disk, the local
Slack server, and the README's "Run it in production" commands run in a session of their own,
stopped by PID (SIGTERM, then SIGKILL) whatever happens."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tests.conftest import postgres_database
from tests.fakes.slack_server import FakeSlack

REPO = Path(__file__).resolve().parents[2]
LOCATION = "monitoring_pipelines"
REPOSITORY = "__repository__"
START = datetime(2026, 11, 2, 0, tzinfo=UTC)
HOURS = 24
ROWS_PER_HOUR = 600
DRIFT_FROM = 12
DEPLOYMENTS = ("svc_alpha", "svc_beta")
DRIFTING = "svc_beta"
CHANNEL = "C0SERVICE1"


def readme_commands() -> str:
    """The commands block of the README's "Run it in production" section."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Run it in production", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n# the service\n(.*?)```", section, re.S).group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rows(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3 + shift, 0.5, n),
            "tenure": rng.integers(0, 5, n).astype(float),
            "segment": rng.choice(["retail", "sme", "corporate"], n, p=[0.6, 0.3, 0.1]),
            "predicted_class": rng.choice(["0", "1"], n, p=[0.8 - shift / 2, 0.2 + shift / 2]),
            "confidence": rng.uniform(0.5, 1.0, n),
        }
    )


def write_deployments(
    root: Path, deployments: tuple[str, ...] = DEPLOYMENTS, hours: int = HOURS
) -> Path:
    """Reference and ``hours`` hours of Parquet logs per deployment (the drifting one shifts
    from hour 12), and a monitors.yaml alerting to the local Slack channel."""
    rng = np.random.default_rng(7)
    entries = []
    for deployment in deployments:
        base = root / deployment
        base.mkdir(parents=True)
        _rows(rng, 4000, 0.0).to_parquet(base / "reference.parquet")
        for h in range(hours):
            hour = START + timedelta(hours=h)
            shift = 0.6 if deployment == DRIFTING and h >= DRIFT_FROM else 0.0
            frame = _rows(rng, ROWS_PER_HOUR, shift)
            frame["scored_at"] = hour + pd.to_timedelta(rng.uniform(0, 3599, len(frame)), "s")
            folder = base / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
            folder.mkdir(parents=True)
            frame.to_parquet(folder / "part-00000.parquet")
        entries.append(
            {
                "id": deployment,
                "reference": {"path": f"{deployment}/reference.parquet"},
                "logs": {
                    "type": "parquet",
                    "path": f"{deployment}/logs",
                    "timestamp_column": "scored_at",
                },
                "start": START.isoformat(),
                "alerts": {"slack_channel": CHANNEL, "min_severity": "warning"},
                "columns": [
                    {"name": "scored_at", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "tenure", "type": "numerical"},
                    {"name": "segment", "type": "categorical"},
                    {"name": "predicted_class", "type": "categorical", "role": "prediction"},
                    {"name": "confidence", "type": "numerical", "role": "confidence"},
                ],
            }
        )
    path = root / "monitors.yaml"
    path.write_text(yaml.safe_dump({"defaults": {"n_bins": 10}, "deployments": entries}))
    return path


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Service:
    """A running service: its environment, the GraphQL endpoint, the Slack server, its log."""

    env: dict[str, str]
    url: str
    slack: FakeSlack
    process: subprocess.Popen
    log: Path
    database: str

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def answers(self) -> bool:
        """The webserver answers ``/server_info``."""
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    @property
    def store_url(self) -> str:
        return self.env["MONITORING_DATABASE_URL"]


def stop_session(process: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM to the process group the service leads, then SIGKILL if it outlives ``grace``."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)  # any member of the group left (daemon children)?
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def running_service(tmp: Path, token: str) -> Iterator[Service]:
    """Start the README's commands against a fresh database; always stop them and drop it."""
    with postgres_database("mp_service") as database:
        home, data = tmp / "dagster_home", tmp / "data"
        data.mkdir()
        config = write_deployments(data)
        slack = FakeSlack(token, hang_seconds=1.0).start()
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SLACK_"))},
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_DB": database,
            "MONITORING_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
            "MONITORS_CONFIG": str(config),
            "DAGSTER_WEBSERVER_HOST": "127.0.0.1",
            "DAGSTER_WEBSERVER_PORT": str(port),
            "SLACK_BOT_TOKEN": token,
            "SLACK_BASE_URL": slack.url,
            "SLACK_CHANNEL": CHANNEL,
        }
        log = tmp / "service.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-ec", readme_commands()],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        service = Service(env, f"http://127.0.0.1:{port}", slack, process, log, database)
        try:
            wait_for("the webserver", lambda: process.poll() is not None or service.answers(), 120)
            if process.poll() is not None:
                raise AssertionError(f"the service exited early:\n{service.log_tail()}")
            yield service
        finally:
            stop_session(process)
            slack.stop()
