"""model_performance: what a window's numbers rest on (kind, status, rows scored, labels
arrived through when, and JSON details: the confusion matrix, per-class metrics, the latency
sketch).

Revision ID: 0006_performance_details
Revises: 0005_calibration
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006_performance_details"
down_revision: str | None = "0005_calibration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("model_performance") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="realized")
        )
        batch.add_column(sa.Column("status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("n_scored", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("labels_through", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("details", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_performance") as batch:
        for name in ("details", "labels_through", "n_scored", "status", "kind"):
            batch.drop_column(name)
