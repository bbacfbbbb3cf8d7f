"""alerts.slack_guarantee and alerts.slack_marker: how each outbox row is delivered to Slack.

``slack_guarantee``: ``exactly_once`` where the channel's history can be searched for the
row's message, ``at_most_once`` / ``at_least_once`` where it cannot (SLACK_UNCONFIRMED_POLICY
wait / resend). ``slack_marker``: the marker of the message the row was last posted in (a
digest of the message's dedup keys, in its metadata and header block id), which the lookup
after an unknown outcome searches for. Rows written before this revision keep NULL (their
messages carry the dedup keys themselves and are found by key).

Revision ID: 0003_slack_guarantee
Revises: 0002_written_windows
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_slack_guarantee"
down_revision: str | None = "0002_written_windows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("slack_guarantee", sa.String(16), nullable=True))
    op.add_column("alerts", sa.Column("slack_marker", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("slack_marker")
        batch.drop_column("slack_guarantee")
