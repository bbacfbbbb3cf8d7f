"""Keep secrets out of logs, exception text and the outbox's ``last_error``.

URL credentials are found by parsing each ``scheme://…`` word with SQLAlchemy's ``make_url``;
when the parse cannot be trusted (an unescaped ``@`` in a password makes it split at the wrong
``@``) or fails, everything between ``://`` and the word's last ``@`` is hidden. Only the
credentials are replaced, so the rest of the URL and of the message is kept exactly.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from urllib.parse import unquote

from sqlalchemy.engine import make_url

HIDDEN = "***"
SLACK_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",}]+")
URL_WORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>\S+)")
DSN_PASSWORD = re.compile(r"""(?i)\b(password|passwd|pwd)(\s*=\s*)('[^']*'|"[^"]*"|[^\s&;,]+)""")


def redact_url(word: str) -> str:
    """``word`` (one ``scheme://…`` token) with its credentials replaced by ``***``.

    The user name is kept when ``make_url`` parsed the credentials exactly as they end at
    the last ``@``; otherwise the whole user-info part is hidden.
    """
    scheme, separator, rest = word.partition("://")
    at = rest.rfind("@")
    if not separator or at < 0:
        return word
    userinfo, tail = rest[:at], rest[at:]
    user = _parsed_user(word, userinfo)
    hidden = HIDDEN if user is None else f"{user}:{HIDDEN}"
    return f"{scheme}://{hidden}{tail}"


def _parsed_user(word: str, userinfo: str) -> str | None:
    """The raw user name when ``make_url`` agrees that ``userinfo`` is ``user:password``."""
    try:
        url = make_url(word)
    except Exception:  # make_url raises several types for strings that are not URLs
        return None
    if url.password is None or url.username is None:
        return None
    raw_user, colon, raw_password = userinfo.partition(":")
    if not colon or unquote(raw_password) != str(url.password):
        return None  # the parse split at another "@": do not trust its user name either
    return raw_user


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with URL credentials, ``password=`` values, the given secrets, Slack tokens
    and bearer credentials replaced."""
    text = URL_WORD.sub(lambda match: redact_url(match.group(0)), text)
    text = DSN_PASSWORD.sub(lambda match: f"{match.group(1)}{match.group(2)}{HIDDEN}", text)
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
