"""aggregates.log_files: the log files the source found for the hour (Parquet), so a quiet
hour's ``no_data`` alert, judged later from the store, says "no log file for the hour" rather
than "0 rows"; NULL where the source cannot tell (SQL, Kafka) and on rows written before.

Revision ID: 0011_log_files
Revises: 0010_segments
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_log_files"
down_revision: str | None = "0010_segments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("aggregates") as batch:
        batch.add_column(sa.Column("log_files", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("aggregates") as batch:
        batch.drop_column("log_files")
