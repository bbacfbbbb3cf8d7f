"""written_windows and store_counters: a commit-ordered record of written windows for sensors.

Existing drift_scores windows are recorded with commit_seq 1..N in the order of their newest
row id, so an id cursor of the previous sensor converts to a commit_seq without judging a
window twice or skipping one (``store.drift.commit_seq_for_legacy_cursor``).

Revision ID: 0002_written_windows
Revises: 0001_initial
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_written_windows"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "written_windows",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("granularity", sa.String(32), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("commit_seq", sa.BigInteger(), nullable=False),
        sa.Column("written_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint(
            "source",
            "deployment_id",
            "granularity",
            "window_start",
            name="uq_written_windows_window",
        ),
    )
    op.create_index(
        "ix_written_windows_commit_order",
        "written_windows",
        ["source", "granularity", "commit_seq"],
        unique=True,
    )
    op.create_table(
        "store_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO written_windows (source, deployment_id, granularity, window_start, "
        "window_end, row_count, version, commit_seq, written_at) "
        "SELECT 'drift_scores', deployment_id, granularity, window_start, max(window_end), "
        "count(*), 1, row_number() OVER (ORDER BY max(id)), max(computed_at) "
        "FROM drift_scores GROUP BY deployment_id, granularity, window_start"
    )
    op.execute(
        "INSERT INTO store_counters (name, value) "
        "SELECT 'window_commit_seq', count(*) FROM written_windows"
    )


def downgrade() -> None:
    op.drop_table("store_counters")
    op.drop_table("written_windows")
