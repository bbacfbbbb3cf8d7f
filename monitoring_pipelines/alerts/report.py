"""What one delivery did, per channel: counts of rows by outcome, calls made, errors seen."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Row outcomes of one delivery: sent; retrying (pending after a failed attempt that provably
# did not arrive); unconfirmed (the outcome of a post is unknown, or its lookup failed);
# failed (a permanent error); waiting (not attempted yet: a lookup's settle time, or a
# resolved notice whose original message is not settled); held (no transport); skipped.
OUTCOMES = ("sent", "retrying", "unconfirmed", "failed", "waiting", "held", "skipped")


@dataclass
class DeliveryReport:
    """Rows per channel and outcome, API calls that Slack/AWS confirmed, errors and notices."""

    rows: dict[str, Counter] = field(default_factory=dict)
    slack_messages: int = 0
    slack_lookups: int = 0
    cloudwatch_calls: int = 0
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def add(self, channel: str, outcome: str, count: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: choose one of {', '.join(OUTCOMES)}")
        self.rows.setdefault(channel, Counter())[outcome] += count

    def count(self, channel: str, outcome: str) -> int:
        return self.rows.get(channel, Counter())[outcome]

    def summary(self, channel: str) -> dict[str, int]:
        """Every outcome's count for ``channel`` (zeros included), for op metadata."""
        return {outcome: self.count(channel, outcome) for outcome in OUTCOMES}

    def undelivered(self, channel: str) -> int:
        """Rows that this delivery tried and could not settle as sent."""
        return sum(self.count(channel, o) for o in ("retrying", "unconfirmed", "failed"))
