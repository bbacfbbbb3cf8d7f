"""Headless Chromium over the DevTools protocol: open a page, wait until it has rendered,
and collect console errors, exceptions and network requests; take a screenshot.

Debian's ``chromium`` (``make browser`` installs it) with ``--headless --no-sandbox
--disable-gpu``; the protocol is spoken with ``websockets`` so no browser download is needed.
Used by the report tests and by ``make screenshots`` (``tools/screenshots.py``).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from websockets.sync.client import connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def non_blank(png: bytes) -> bool:
    """A screenshot that shows something: contrast, and no single grey level over 97%."""
    image = Image.open(io.BytesIO(png)).convert("L")
    low, high = image.getextrema()
    histogram = image.histogram()
    return high - low > 100 and max(histogram) < 0.97 * sum(histogram)


@dataclass
class PageVisit:
    """What a page did while it loaded and rendered."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    rendered: str | None = None
    text: str = ""
    screenshot: bytes = b""


class Browser:
    """One headless Chromium process, spoken to over its DevTools websocket."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        binary = chromium()
        if binary is None:
            raise FileNotFoundError("chromium is not installed (make browser)")
        self._profile = tempfile.TemporaryDirectory(prefix="mp-chromium-")
        self._process = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        self._socket = None
        try:
            self._socket = connect(self._devtools_url(), max_size=None, open_timeout=30)
            target = self._call("Target.createTarget", url="about:blank")["targetId"]
            attached = self._call("Target.attachToTarget", targetId=target, flatten=True)
        except BaseException:
            self.close()
            raise
        self._session = attached["sessionId"]

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + 60
        assert self._process.stderr is not None
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                return match.group(1)
            if not line and self._process.poll() is not None:
                break
        raise RuntimeError("chromium did not start its DevTools endpoint")

    def _call(self, method: str, session: str | None = None, **params) -> dict:
        ident = next(self._ids)
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            reply = json.loads(self._socket.recv(timeout=60))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def page(self, method: str, **params) -> dict:
        return self._call(method, self._session, **params)

    def evaluate(self, expression: str):
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def open(self, url: str, ready: str, timeout: float = 60.0, settle: float = 1.0) -> bytes:
        """Navigate to ``url`` and :meth:`capture` it once ``ready`` holds."""
        self.page("Page.enable")
        self.page("Page.navigate", url=url)
        return self.capture(ready, timeout, settle)

    def capture(self, ready: str = "true", timeout: float = 60.0, settle: float = 1.0) -> bytes:
        """Wait until the JavaScript ``ready`` is true, then ``settle`` seconds for the last
        paints, and return a PNG of the viewport."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({ready})"):
            if time.monotonic() > deadline:
                text = (self.evaluate("document.body && document.body.innerText") or "")[:300]
                url = self.evaluate("location.href")
                raise TimeoutError(f"{url}: not ready after {timeout:.0f} s ({ready}): {text!r}")
            time.sleep(0.25)
        time.sleep(settle)
        return base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"])

    def visit(self, path: Path, timeout: float = 60.0) -> PageVisit:
        """Open a local file, wait for ``body[data-rendered]`` to leave ``pending``."""
        self._events.clear()
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.page(f"{domain}.enable")
        self.page("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.evaluate("document.body && document.body.getAttribute('data-rendered')")
            if state and state != "pending":
                break
            time.sleep(0.2)
        visit = PageVisit(rendered=state, text=self.evaluate("document.body.innerText") or "")
        shot = self.page("Page.captureScreenshot", format="png")
        visit.screenshot = base64.b64decode(shot["data"])
        start = path.resolve().as_uri()
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                visit.console_errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                visit.console_errors.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.console_errors.append(params["entry"]["text"])
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url != start and not url.startswith("data:"):
                    visit.requests.append(url)
        return visit

    def close(self) -> None:
        try:
            if self._socket is not None:
                self._socket.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._profile.cleanup()  # after the exit: chromium writes until it ends

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
