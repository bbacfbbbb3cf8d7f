"""Made-up credentials, generated at run time: nothing in the tree is shaped like a real secret."""

from __future__ import annotations

import secrets


def fake_slack_token() -> str:
    """A bot-token-shaped value that no Slack workspace ever issued."""
    return "-".join(("xoxb", secrets.token_hex(8), secrets.token_hex(12)))


def fake_secret(label: str = "secret") -> str:
    """An opaque password or key: a label plus random hex, unique per call."""
    return f"{label}-{secrets.token_hex(8)}"
