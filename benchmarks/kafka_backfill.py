"""A backfill read from Kafka: every hour of a topic through one ``KafkaLogSource`` (its learned
time index) against a fresh source per hour (what a broker without a time index costs then).

Runs against the local tansu broker (``monitoring_pipelines.demo.broker``), which answers every
``offsets_for_times`` with the earliest offset. Usage:
``.venv/bin/python -m benchmarks.kafka_backfill [--hours 72] [--per-hour 2000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitoring_pipelines.demo.broker import LocalBroker, create_topic
from monitoring_pipelines.sources.kafka import KafkaLogSource
from monitoring_pipelines.traffic import KafkaSink, MonitoringLogger

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def kafka_backfill(hours: int, per_hour: int) -> dict[str, tuple[int, float]]:
    """Rows read and seconds taken by each way of reading every hour."""
    with LocalBroker() as broker:
        servers = broker.bootstrap_servers
        create_topic(servers, "scoring", 3)
        logger = MonitoringLogger("bench", KafkaSink(servers, "scoring"), batch_rows=5000)
        step = 3600 / per_hour
        for i in range(hours * per_hour):
            when = T0 + timedelta(seconds=i * step)
            logger.log({"x": float(i), "segment": "a"}, 1, timestamp=when)
        if logger.close():
            raise RuntimeError(f"not all events were delivered: {logger.status()}")
        results = {}
        for label, shared in (("one source (learned index)", True), ("a source per hour", False)):
            source = KafkaLogSource(servers, "scoring", "bench")
            started, rows = time.perf_counter(), 0
            for h in range(hours):
                if not shared:
                    source = KafkaLogSource(servers, "scoring", "bench")
                start = T0 + h * HOUR
                rows += sum(len(frame) for frame in source.read_window(start, start + HOUR))
            results[label] = (rows, time.perf_counter() - started)
    return results


def machine() -> str:
    """The CPU, cores and load the figures were measured under."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = os.getloadavg()[0]
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load {load:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--per-hour", type=int, default=2000)
    args = parser.parse_args()
    print(machine())
    results = kafka_backfill(args.hours, args.per_hour)
    baseline = results["a source per hour"][1]
    print(f"\n{args.hours} hours x {args.per_hour} events on tansu, 3 partitions")
    print("| read | rows | seconds | rows/s | vs a source per hour |\n|---|---|---|---|---|")
    for label, (rows, seconds) in results.items():
        speed = f"{rows / seconds:,.0f}"
        print(f"| {label} | {rows} | {seconds:.1f} | {speed} | {baseline / seconds:.1f}x |")


if __name__ == "__main__":
    main()
