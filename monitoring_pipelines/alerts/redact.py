"""Keep secrets out of logs, exception text and the outbox's ``last_error``."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

SLACK_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",}]+")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secrets, Slack tokens and bearer credentials replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = SLACK_TOKEN.sub("[redacted]", text)
    return BEARER.sub(r"\1[redacted]", text)


def describe(error: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """A one-line, secret-free description of an exception for logs and the outbox."""
    text = " ".join(str(error).split()) or "no message"
    return redact(f"{type(error).__name__}: {text}", secrets)


class RedactingFilter(logging.Filter):
    """A logger filter that rewrites every record with the secrets removed."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info:
            trace = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(trace, self._secrets)
            record.exc_info = None
        return True
