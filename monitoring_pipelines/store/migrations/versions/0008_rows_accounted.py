"""aggregates: what each stored hour did not profile as read — rows stamped outside the hour
(``rows_out_of_window``), not stamped (``rows_null_timestamp``), messages that are not
events (``rows_undecodable``, Kafka), repeated request ids
(``duplicate_request_ids``) and, per column, values PostgreSQL cannot store that were replaced
by U+FFFD (``replaced_values``). NULL on rows written before: not counted then.

Revision ID: 0008_rows_accounted
Revises: 0007_drift_reference
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_rows_accounted"
down_revision: str | None = "0007_drift_reference"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "rows_out_of_window",
    "rows_null_timestamp",
    "rows_undecodable",
    "duplicate_request_ids",
    "replaced_values",
)


def upgrade() -> None:
    with op.batch_alter_table("aggregates") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("aggregates") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
