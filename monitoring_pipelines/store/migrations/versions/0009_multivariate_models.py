"""multivariate_models: each deployment's reconstruction model (multivariate drift), fitted with
the baseline, or why it has none.

Revision ID: 0009_multivariate_models
Revises: 0008_rows_accounted
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009_multivariate_models"
down_revision: str | None = "0008_rows_accounted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "multivariate_models",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("model", JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("deployment_id", name="uq_multivariate_models_deployment"),
    )


def downgrade() -> None:
    op.drop_table("multivariate_models")
