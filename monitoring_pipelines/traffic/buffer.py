"""A bounded buffer drained by one background thread, so logging never blocks the caller.

Records wait in memory until ``batch_rows`` are queued or ``flush_seconds`` have passed, then
one thread hands them to the sink. A failing sink keeps its batch (retried with backoff, so
everything buffered is delivered when the sink is back); when the buffer is full, new records
are dropped and counted, and a warning says so. Nothing is lost without a count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitoring_pipelines.traffic.sinks.base import Sink, SinkError

log = logging.getLogger("monitoring_pipelines.traffic")
MAX_BACKOFF_SECONDS = 30.0
ERROR_CHARS = 300


@dataclass(frozen=True)
class BufferCounts:
    """Rows that went through the buffer so far."""

    buffered: int
    delivered: int
    dropped: int
    write_failures: int
    last_error: str | None


class BackgroundBuffer:
    """Queue records of any kind; a daemon thread writes them with ``write(batch)``."""

    def __init__(
        self,
        sink: Sink,
        *,
        batch_rows: int,
        flush_seconds: float,
        max_buffered_rows: int,
        retry_seconds: float,
        name: str,
    ):
        if not 0 < batch_rows <= max_buffered_rows:
            raise ValueError(
                f"need 0 < batch_rows <= max_buffered_rows, got {batch_rows} and "
                f"{max_buffered_rows}"
            )
        if flush_seconds <= 0 or retry_seconds <= 0:
            raise ValueError("flush_seconds and retry_seconds must be positive")
        self.sink = sink
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self.retry_seconds = retry_seconds
        self._queue: deque[Any] = deque()
        self._in_flight = 0
        self._delivered = 0
        self._dropped = 0
        self._failures = 0
        self._last_error: str | None = None
        self._flush_wanted = False
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{name}", daemon=True)
        self._thread.start()

    def put(self, records: Sequence[Any]) -> int:
        """Queue what fits; return how many were dropped because the buffer is full."""
        with self._cond:
            room = max(0, self.max_buffered_rows - len(self._queue) - self._in_flight)
            self._queue.extend(records[:room])
            dropped = len(records) - min(room, len(records))
            if dropped:
                if not self._dropped:
                    log.warning(
                        "traffic buffer full (%d rows, sink: %s): dropping records, counted in "
                        "status().dropped",
                        self.max_buffered_rows,
                        self._last_error or "slow",
                    )
                self._dropped += dropped
            if len(self._queue) >= self.batch_rows:
                self._cond.notify_all()
            return dropped

    def counts(self) -> BufferCounts:
        with self._cond:
            return BufferCounts(
                buffered=len(self._queue) + self._in_flight,
                delivered=self._delivered,
                dropped=self._dropped,
                write_failures=self._failures,
                last_error=self._last_error,
            )

    def flush(self, timeout: float) -> bool:
        """Write everything queued now; True when the buffer emptied within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flush_wanted = True
            self._cond.notify_all()
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float) -> int:
        """Flush, stop the thread and close the sink; return the rows left undelivered."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=max(timeout, 1.0))
        left = self.counts().buffered
        if left:
            log.warning(
                "traffic logger closed with %d rows undelivered (%s)", left, self._last_error
            )
        self.sink.close()
        return left

    def _take(self) -> list[Any] | None:
        """Wait for a full batch, the flush interval, a flush request or close (None: stop)."""
        with self._cond:
            deadline = time.monotonic() + self.flush_seconds
            while True:
                now = time.monotonic()
                if self._closing:
                    if not self._queue:
                        return None
                    break
                due = now >= deadline or self._flush_wanted
                if len(self._queue) >= self.batch_rows or (self._queue and due):
                    break
                if now >= deadline:
                    deadline = now + self.flush_seconds
                self._cond.wait(deadline - now if deadline > now else self.flush_seconds)
            batch = [self._queue.popleft() for _ in range(min(self.batch_rows, len(self._queue)))]
            self._in_flight = len(batch)
            if not self._queue:
                self._flush_wanted = False
            return batch

    def _run(self) -> None:
        backoff = self.retry_seconds
        while (batch := self._take()) is not None:
            undelivered = self._write(batch)
            with self._cond:
                self._in_flight = 0
                self._delivered += len(batch) - len(undelivered)
                self._queue.extendleft(reversed(undelivered))
                self._cond.notify_all()
                closing = self._closing
            if not undelivered:
                backoff = self.retry_seconds
                continue
            if closing:
                return
            with self._cond:
                self._cond.wait_for(lambda: self._closing, timeout=backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _write(self, batch: list[Any]) -> list[Any]:
        """Write one batch; return the records to retry (all of them unless the sink knows)."""
        try:
            self.sink.write(batch)
            return []
        except SinkError as error:
            self._failed(error)
            return batch if error.undelivered is None else list(error.undelivered)
        except Exception as error:  # a sink bug or outage must not kill the thread
            self._failed(error)
            return batch

    def _failed(self, error: Exception) -> None:
        text = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        with self._cond:
            self._failures += 1
            first = self._last_error is None
            self._last_error = text[:ERROR_CHARS]
        if first:
            log.warning("traffic sink %s failed, retrying: %s", self.sink, text[:ERROR_CHARS])
