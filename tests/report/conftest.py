"""A headless Chromium for the report tests (a skip, or a failure under CI=true, without it)."""

from __future__ import annotations

import os

import pytest

from tools.browser import Browser, chromium


@pytest.fixture(scope="session")
def browser():
    if chromium() is None:
        reason = "chromium is not installed (make browser installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: browser tests must run)")
        pytest.skip(reason)
    with Browser(width=1280, height=2400) as opened:
        yield opened
