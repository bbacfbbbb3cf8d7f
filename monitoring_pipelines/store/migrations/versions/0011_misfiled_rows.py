"""aggregates: where an hour's rows came from. ``log_files``: the log files the source found for
the hour (Parquet), so a quiet hour's ``no_data`` alert, judged later from the store, says "no
log file for the hour" rather than "0 rows"; ``rows_misfiled``: rows of the hour's folder
stamped in the next or previous hour, which that hour reads; ``rows_from_neighbours``: rows
this hour read from those neighbouring folders. NULL where the source cannot tell (SQL, Kafka)
and on rows written before.

Revision ID: 0011_misfiled_rows
Revises: 0010_segments
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_misfiled_rows"
down_revision: str | None = "0010_segments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("log_files", "rows_misfiled", "rows_from_neighbours")


def upgrade() -> None:
    with op.batch_alter_table("aggregates") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("aggregates") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
