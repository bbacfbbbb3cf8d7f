"""calibration: each distance metric's noise curve per monitored column, fitted with the baseline.

Revision ID: 0005_calibration
Revises: 0004_folded_counts
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION

revision: str = "0005_calibration"
down_revision: str | None = "0004_folded_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLOATS = sa.JSON().with_variant(ARRAY(DOUBLE_PRECISION()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "calibration",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("sizes", FLOATS, nullable=False),
        sa.Column("means", FLOATS, nullable=False),
        sa.Column("stds", FLOATS, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "deployment_id", "column_name", "metric", name="uq_calibration_column_metric"
        ),
    )


def downgrade() -> None:
    op.drop_table("calibration")
