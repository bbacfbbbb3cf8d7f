"""A local Slack Web API for tests, over real HTTP, speaking what the project uses.

Methods: ``chat.postMessage`` (with ``metadata``, ``thread_ts``), ``chat.update``,
``conversations.history`` (top-level messages, newest first, paged, metadata only with
``include_all_metadata``) and ``conversations.replies`` (a thread, parent first). Every
response carries ``X-OAuth-Scopes``; without ``channels:history`` in :attr:`FakeSlack.scopes`
the history methods answer ``missing_scope`` as Slack does. Channels outside
:attr:`FakeSlack.channels` (when set) answer ``channel_not_found``; history by channel name
too. Blocks beyond Block Kit's limits (50 blocks, 3000 characters per section text, 2000 per
field, 150 per header, about 12,000 in all) answer ``invalid_blocks`` / ``msg_blocks_too_long``.
Every accepted post is kept in :attr:`FakeSlack.messages` (replies included).

Faults, scripted per method (``fake.script_for(method, ...)``) or for the next request of
any method (``fake.script``): 429 with Retry-After; 500 or 503 before accepting; 502 with an
HTML body (a proxy); accept then 500; accept then drop the connection; accept then hang
(the client times out); hang then accept (after the client gave up); accept then SIGKILL
the client process; echo the Authorization header (to test redaction).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

OK = "ok"
RATE_LIMITED = "429"
SERVER_ERROR = "500"  # before accepting: nothing stored
UNAVAILABLE = "503"  # before accepting
PROXY_HTML = "502_html"  # before accepting, a proxy's HTML page
ACCEPT_THEN_500 = "accept_then_500"
ACCEPT_THEN_DROP = "accept_then_drop"
HANG_AFTER_POST = "accept_then_hang"
HANG = "hang"  # hang, then 500: nothing stored
LATE_ACCEPT = "hang_then_accept"
KILL_AFTER_ACCEPT = "accept_then_kill_client"
ECHO_AUTH = "echo_auth"
ALL_SCOPES = frozenset({"chat:write", "channels:history", "groups:history"})
# Block Kit limits Slack enforces on chat.postMessage / chat.update (the cumulative one is
# undocumented: Slack answers msg_blocks_too_long at about 12,000 characters of text).
MAX_BLOCKS, MAX_SECTION_TEXT, MAX_FIELD_TEXT, MAX_HEADER_TEXT = 50, 3000, 2000, 150
MAX_BLOCKS_TEXT = 12_000
HISTORY_METHODS = ("conversations.history", "conversations.replies")


@dataclass
class Recorded:
    method: str
    headers: dict[str, str]
    body: dict[str, Any]


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def block_kit_error(blocks: Any) -> str | None:
    """Slack's answer to blocks beyond Block Kit's limits, or None when they are valid."""
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    total = 0
    for block in blocks:
        limit = MAX_HEADER_TEXT if block.get("type") == "header" else MAX_SECTION_TEXT
        texts = [(block["text"]["text"], limit)] if "text" in block else []
        texts += [(field["text"], MAX_FIELD_TEXT) for field in block.get("fields", [])]
        texts += [(e["text"]["text"], 75) for e in block.get("elements", []) if "text" in e]
        if any(len(text) > most for text, most in texts):
            return "invalid_blocks"
        total += sum(len(text) for text, _ in texts)
    return "msg_blocks_too_long" if total > MAX_BLOCKS_TEXT else None


class FakeSlack:
    """Start with :meth:`start`; ``url`` is the base URL for ``WebClient(base_url=...)``."""

    def __init__(self, token: str, hang_seconds: float = 3.0) -> None:
        self.token = token
        self.hang_seconds = hang_seconds
        self.requests: list[Recorded] = []
        self.messages: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.script: deque[str] = deque()
        self.scripts: dict[str, deque[str]] = {}
        self.down = False
        self.scopes: set[str] = set(ALL_SCOPES)
        self.channels: set[str] | None = None
        self.members_only: set[str] = set()  # channels the bot is not in: not_in_channel
        self.token_error: str | None = None  # e.g. token_revoked, account_inactive
        self.retry_after = "0"
        self.post_delay = 0.0  # seconds an accepted post takes (widens races in tests)
        self.page_size = 100
        self.kill_pid: int | None = None
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

    def script_for(self, method: str, *behaviours: str) -> None:
        """Answer the next requests of ``method`` with ``behaviours``, in order."""
        self.scripts.setdefault(method, deque()).extend(behaviours)

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def posts(self) -> list[Recorded]:
        return self.calls("chat.postMessage")

    def posted_markers(self) -> list[str | None]:
        """The marker in the metadata of every accepted post, in order."""
        return [
            ((m.get("metadata") or {}).get("event_payload") or {}).get("marker")
            for m in self.messages
        ]

    def posted_keys(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """The dedup keys of every accepted post, one entry per post and key: each message's
        marker mapped back to the outbox ``rows`` recorded with it (``slack_marker``). A
        message that no row claims counts as ``unclaimed:<marker>``, so it cannot hide."""
        keys_of: dict[str | None, list[str]] = defaultdict(list)
        for row in rows:
            if row["slack_marker"] is not None:
                keys_of[row["slack_marker"]].append(row["dedup_key"])
        return [
            key
            for marker in self.posted_markers()
            for key in keys_of.get(marker) or [f"unclaimed:{marker}"]
        ]

    def _next_behaviour(self, method: str) -> str:
        with self._lock:
            if self.down:
                return SERVER_ERROR
            own = self.scripts.get(method)
            if own:
                return own.popleft()
            return self.script.popleft() if self.script else OK

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._ts = max(time.time(), self._ts + 0.001)
            message = {
                "channel": body["channel"],
                "ts": f"{self._ts:.6f}",
                "thread_ts": body.get("thread_ts"),
                "text": body.get("text"),
                "blocks": body.get("blocks"),
                "metadata": body.get("metadata"),
            }
            self.messages.append(message)
        return message

    def _channel_error(self, channel: str | None, history: bool) -> str | None:
        if not channel:
            return "channel_not_found"
        by_name = channel[:1] not in "CGD" or channel.startswith("#")
        if history and by_name:
            return "channel_not_found"
        if self.channels is not None and channel not in self.channels and not by_name:
            return "channel_not_found"
        if channel in self.members_only:
            return "not_in_channel"
        return None

    def _shown(self, message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
        shown = {k: message[k] for k in ("ts", "text", "blocks")}
        if message["thread_ts"]:
            shown["thread_ts"] = message["thread_ts"]
        if with_metadata and message["metadata"]:
            shown["metadata"] = message["metadata"]
        return shown

    def _page(self, found: list[dict], body: dict[str, Any]) -> dict[str, Any]:
        start = int(body.get("cursor") or 0)
        page = found[start : start + self.page_size]
        more = start + self.page_size < len(found)
        answer = {"ok": True, "messages": page, "has_more": more}
        if more:
            answer["response_metadata"] = {"next_cursor": str(start + self.page_size)}
        return answer

    def _answer(self, method: str, body: dict[str, Any], authorized: bool) -> dict[str, Any]:
        if not authorized:
            return {"ok": False, "error": "invalid_auth"}
        if self.token_error:
            return {"ok": False, "error": self.token_error}
        channel = body.get("channel")
        if method in HISTORY_METHODS:
            needed = "groups:history" if str(channel).startswith("G") else "channels:history"
            if needed not in self.scopes:
                provided = ",".join(sorted(self.scopes))
                return {"ok": False, "error": "missing_scope", "needed": needed,
                        "provided": provided}  # fmt: skip
        error = self._channel_error(channel, history=method in HISTORY_METHODS)
        if error:
            return {"ok": False, "error": error}
        if method in ("chat.postMessage", "chat.update") and block_kit_error(body.get("blocks")):
            return {"ok": False, "error": block_kit_error(body.get("blocks"))}
        if method == "chat.postMessage":
            time.sleep(self.post_delay)
            message = self._store(body)
            return {"ok": True, "channel": channel, "ts": message["ts"]}
        if method == "chat.update":
            with self._lock:
                target = next(
                    (m for m in self.messages if m["channel"] == channel and m["ts"] == body["ts"]),
                    None,
                )
                if target is None:
                    return {"ok": False, "error": "message_not_found"}
                target.update(text=body.get("text"), blocks=body.get("blocks"))
                self.updates.append({"channel": channel, "ts": body["ts"], **body})
            return {"ok": True, "channel": channel, "ts": body["ts"]}
        oldest = float(body.get("oldest") or 0)
        metadata = _truthy(body.get("include_all_metadata"))
        with self._lock:
            in_channel = [m for m in self.messages if m["channel"] == channel]
        if method == "conversations.history":
            found = [
                self._shown(m, metadata)
                for m in reversed(in_channel)
                if not m["thread_ts"] and float(m["ts"]) >= oldest
            ]
            return self._page(found, body)
        if method == "conversations.replies":
            thread = body.get("ts")
            found = [
                self._shown(m, metadata)
                for m in in_channel
                if (m["ts"] == thread or m["thread_ts"] == thread) and float(m["ts"]) >= oldest
            ]
            if not any(m["ts"] == thread for m in in_channel):
                return {"ok": False, "error": "thread_not_found"}
            return self._page(found, body)
        return {"ok": False, "error": "unknown_method"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Quiet: tests read ``fake.requests`` instead."""

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                self._serve(parts.path.rsplit("/", 1)[-1], dict(parse_qsl(parts.query)))

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    body = dict(parse_qsl(raw))
                body |= dict(parse_qsl(parts.query))
                self._serve(parts.path.rsplit("/", 1)[-1], body)

            def _serve(self, method: str, body: dict[str, Any]) -> None:
                fake.requests.append(Recorded(method, dict(self.headers), body))
                behaviour = fake._next_behaviour(method)
                authorized = self.headers.get("Authorization") == f"Bearer {fake.token}"
                if behaviour == RATE_LIMITED:
                    headers = {"Retry-After": fake.retry_after}
                    self._send(429, {"ok": False, "error": "ratelimited"}, headers)
                elif behaviour in (SERVER_ERROR, UNAVAILABLE):
                    self._send(int(behaviour), {"ok": False, "error": "internal_error"})
                elif behaviour == PROXY_HTML:
                    self._send_raw(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                elif behaviour == ECHO_AUTH:
                    echo = {"ok": False, "error": "invalid_auth", "seen": dict(self.headers)}
                    self._send(200, echo)
                elif behaviour == HANG:
                    fake._stop.wait(fake.hang_seconds)
                    self._send(500, {"ok": False, "error": "too_late"})
                elif behaviour == LATE_ACCEPT:
                    fake._stop.wait(fake.hang_seconds)
                    self._send(200, fake._answer(method, body, authorized))
                else:
                    answer = fake._answer(method, body, authorized)
                    self._after_accept(behaviour, answer)

            def _after_accept(self, behaviour: str, answer: dict) -> None:
                if behaviour == ACCEPT_THEN_500:
                    self._send(500, {"ok": False, "error": "internal_error"})
                elif behaviour == ACCEPT_THEN_DROP:
                    self._drop()
                elif behaviour == HANG_AFTER_POST:
                    fake._stop.wait(fake.hang_seconds)
                    self._send(200, answer)
                elif behaviour == KILL_AFTER_ACCEPT:
                    if fake.kill_pid is not None:
                        os.kill(fake.kill_pid, signal.SIGKILL)
                    self._drop()
                else:
                    self._send(200, answer)

            def _drop(self) -> None:
                """Close the connection without an answer (the client sees a reset)."""
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    return

            def _send(self, status: int, answer: dict, headers: dict | None = None) -> None:
                self._send_raw(status, json.dumps(answer).encode(), "application/json", headers)

            def _send_raw(
                self, status: int, data: bytes, kind: str, headers: dict | None = None
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", f"{kind}; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("X-OAuth-Scopes", ",".join(sorted(fake.scopes)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler
