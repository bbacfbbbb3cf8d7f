"""A local Slack Web API for tests: chat.postMessage and conversations.history over real HTTP.

It records every request and can be scripted to answer the next requests with 429 (with
Retry-After), 500, to hang (before or after storing the message) so clients time out, or
to echo the request's Authorization header in an error (to test that tokens are redacted).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

OK, RATE_LIMITED, SERVER_ERROR, HANG, HANG_AFTER_POST = "ok", "429", "500", "hang", "hang_after"
ECHO_AUTH = "echo_auth"


@dataclass
class Recorded:
    method: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeSlack:
    """Start with :meth:`start`; ``url`` is the base URL for ``WebClient(base_url=...)``."""

    def __init__(self, token: str, hang_seconds: float = 3.0) -> None:
        self.token = token
        self.hang_seconds = hang_seconds
        self.requests: list[Recorded] = []
        self.messages: list[dict[str, Any]] = []
        self.script: deque[str] = deque()
        self.down = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ts = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> FakeSlack:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "chat.postMessage"]

    def _next_behaviour(self) -> str:
        with self._lock:
            if self.down:
                return SERVER_ERROR
            return self.script.popleft() if self.script else OK

    def _answer(self, method: str, body: dict[str, Any], authorized: bool) -> dict[str, Any]:
        if not authorized:
            return {"ok": False, "error": "invalid_auth"}
        if method == "chat.postMessage":
            with self._lock:
                self._ts = max(time.time(), self._ts + 0.001)
                message = {
                    "channel": body["channel"],
                    "ts": f"{self._ts:.6f}",
                    "text": body.get("text"),
                    "blocks": body.get("blocks"),
                    "metadata": body.get("metadata"),
                }
                self.messages.append(message)
            return {"ok": True, "channel": body["channel"], "ts": message["ts"]}
        if method == "conversations.history":
            oldest = float(body.get("oldest") or 0)
            found = [
                {k: m[k] for k in ("ts", "text", "metadata")}
                for m in self.messages
                if m["channel"] == body["channel"] and float(m["ts"]) >= oldest
            ]
            return {"ok": True, "messages": found[::-1], "has_more": False}
        return {"ok": False, "error": "unknown_method"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Quiet: tests read ``fake.requests`` instead."""

            def do_POST(self) -> None:
                method = self.path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    body = dict(parse_qsl(raw))
                fake.requests.append(Recorded(method, dict(self.headers), body))
                behaviour = fake._next_behaviour()
                if behaviour == RATE_LIMITED:
                    self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})
                elif behaviour == SERVER_ERROR:
                    self._send(500, {"ok": False, "error": "internal_error"})
                elif behaviour == ECHO_AUTH:
                    echo = {"ok": False, "error": "invalid_auth", "seen": dict(self.headers)}
                    self._send(200, echo)
                elif behaviour == HANG:
                    fake._stop.wait(fake.hang_seconds)
                    self._send(500, {"ok": False, "error": "too_late"})
                else:
                    authorized = self.headers.get("Authorization") == f"Bearer {fake.token}"
                    answer = fake._answer(method, body, authorized)
                    if behaviour == HANG_AFTER_POST:
                        fake._stop.wait(fake.hang_seconds)
                    self._send(200, answer)

            def _send(self, status: int, answer: dict, headers: dict | None = None) -> None:
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler
