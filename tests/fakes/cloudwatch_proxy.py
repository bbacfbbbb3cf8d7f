"""An HTTP proxy in front of moto's server that can answer CloudWatch ``Throttling``.

A throttled answer is HTTP 400 with ``{"__type": "Throttling", "message": "Rate exceeded"}``
in the protocol the request used (AWS JSON 1.0, or smithy-rpc-v2-cbor in newer botocore).
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 24, "short strings only"
    return bytes([0x60 + len(data)]) + data


THROTTLING = {"__type": "Throttling", "message": "Rate exceeded"}
THROTTLING_CBOR = (
    b"\xa2"
    + _cbor_text("__type")
    + _cbor_text("Throttling")
    + _cbor_text("message")
    + _cbor_text("Rate exceeded")
)


class ThrottlingProxy:
    """Forwards to ``upstream``; the next ``throttle`` requests get a Throttling error instead."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.throttle = 0
        self.throttled = 0
        self.forwarded = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ThrottlingProxy:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _take_throttle(self) -> bool:
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                self.throttled += 1
                return True
            self.forwarded += 1
            return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Quiet: tests read the proxy's counters."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy._take_throttle():
                    headers = {"x-amzn-query-error": "Throttling;Sender"}
                    if "cbor" in self.headers.get("Content-Type", ""):
                        headers |= {"Content-Type": "application/cbor"}
                        headers["smithy-protocol"] = "rpc-v2-cbor"
                        self._reply(400, headers, THROTTLING_CBOR)
                    else:
                        headers["Content-Type"] = "application/x-amz-json-1.0"
                        self._reply(400, headers, json.dumps(THROTTLING).encode())
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request("POST", self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                skip = {"content-length", "transfer-encoding", "connection"}
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in skip}
                conn.close()
                self._reply(answer.status, kept, data)

            def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
