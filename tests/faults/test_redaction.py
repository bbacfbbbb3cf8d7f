"""Redaction that URL syntax cannot fool (issue 14, item 8).

The failing behaviour: a password with an unescaped ``@`` made the parser split at the wrong
``@`` (part of the password stayed visible), and replacing the parsed "password" everywhere
in the message garbled unrelated text."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

from monitoring_pipelines.alerts.redact import RedactingFilter, describe, redact, redact_url
from monitoring_pipelines.store.connection import create_store_engine, redacted
from tests.fakes.credentials import fake_secret

CASES = [  # (URL, redacted)
    ("postgresql://svc:p@ss@db:5432/logs", "postgresql://***@db:5432/logs"),
    ("postgresql://svc:p@ss/w:rd@db:5432/logs", "postgresql://***@db:5432/logs"),
    ("postgresql+psycopg://svc:pa:ss/wo#rd?x@db/logs", "postgresql+psycopg://svc:***@db/logs"),
    ("postgresql://svc:pa:ss/word@db/logs?sslmode=require",
     "postgresql://svc:***@db/logs?sslmode=require"),
    ("postgresql://svc:p%40ss@db/logs", "postgresql://svc:***@db/logs"),
    ("mysql+pymysql://user@domain:s3cret@host/db", "mysql+pymysql://user@domain:***@host/db"),
    ("https://ghp_token123@github.com/org/repo", "https://***@github.com/org/repo"),
    ("http://@host/path", "http://***@host/path"),
    ("not a url: a@b and x://", "not a url: a@b and x://"),
    ("sqlite:////tmp/monitoring.db", "sqlite:////tmp/monitoring.db"),
]  # fmt: skip


def test_make_url_alone_is_fooled_by_an_unescaped_at():
    """What the parser says for ``p@ss/w:rd``: a wrong password, the rest in the host."""
    url = make_url("postgresql://svc:p@ss/w:rd@db:5432/logs")
    assert url.password == "p"
    rendered = url.render_as_string(hide_password=True)
    assert rendered == "postgresql://svc:***@ss/w%3Ard%40db%3A5432/logs"  # leaked and garbled


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_credentials_are_hidden_and_the_rest_kept_exactly(url, expected):
    assert redact(url) == expected
    if url.startswith(("postgresql", "mysql", "https")):
        assert redact_url(url) == expected
    message = f"connect to '{url}' failed (attempt 2 of 3): timeout; see runbook §4 a@b"
    assert redact(message) == (
        f"connect to '{expected}' failed (attempt 2 of 3): timeout; see runbook §4 a@b"
    )


@pytest.mark.parametrize("password", ["p@ss", "p@ss/w:rd", ":@/", "a@b@c", "x:y/z@w", "a?b#c"])
def test_no_piece_of_any_password_survives_and_nothing_else_changes(password):
    text = redact(f"ERROR: postgresql://svc:{password}@db.internal:5432/logs down; pw p kept")
    assert text in {
        "ERROR: postgresql://***@db.internal:5432/logs down; pw p kept",
        "ERROR: postgresql://svc:***@db.internal:5432/logs down; pw p kept",
    }


def test_several_urls_dsn_passwords_and_known_secrets_in_one_message():
    known = fake_secret("token")
    text = (
        "primary postgresql://a:x@y@h1/db, replica postgresql://b:pw@h2/db; "
        f"dsn host=h3 password='s e c' user=u; token {known}"
    )
    assert redact(text, [known]) == (
        "primary postgresql://***@h1/db, replica postgresql://b:***@h2/db; "
        "dsn host=h3 password=*** user=u; token [redacted]"
    )


def test_exceptions_and_log_records_go_through_the_same_redaction(caplog):
    error = RuntimeError("could not connect to postgresql://svc:p@ss/w:rd@db/logs\n  retrying")
    assert describe(error) == "RuntimeError: could not connect to postgresql://***@db/logs retrying"
    logger = logging.getLogger("tests.faults.redaction")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            try:
                raise error
            except RuntimeError:
                logger.exception("store at %s failed", "postgresql://u:p@ss@db/x")
    finally:
        logger.filters.clear()
    assert "p@ss" not in caplog.text and "ss/w:rd" not in caplog.text
    assert "store at postgresql://***@db/x failed" in caplog.text


def test_the_store_names_its_database_without_any_piece_of_the_password():
    """Before: ``redacted`` showed ``ss/w:rd`` and the driver was handed host ``ss@db``."""
    assert redacted("postgresql://svc:p@ss/w:rd@db:5432/logs") == "postgresql://***@db:5432/logs"
    assert redacted(make_url("postgresql://svc:pw@db/logs")) == "postgresql://svc:***@db/logs"
    with pytest.raises(ValueError) as caught:
        create_store_engine("postgresql://svc:p@ss@db.internal:5432/logs")
    assert str(caught.value) == (
        "the database URL postgresql://***@db.internal:5432/logs has an unescaped '@' in its "
        "user or password: write it as %40"
    )
