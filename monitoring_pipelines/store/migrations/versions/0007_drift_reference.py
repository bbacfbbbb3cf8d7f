"""drift_scores.reference: what a window was compared with (training, last_week, ...), part of a
row's natural key; alerts.reference: which reference a drift or resolved alert is about.

Every existing row was scored against the training baseline: drift_scores rows get
``training`` (the server default), and so do existing drift and resolved alerts.

Revision ID: 0007_drift_reference
Revises: 0006_performance_details
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_drift_reference"
down_revision: str | None = "0006_performance_details"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRAINING = "training"
_alerts = sa.table("alerts", sa.column("kind", sa.String), sa.column("reference", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("drift_scores") as batch:
        batch.add_column(
            sa.Column("reference", sa.String(32), nullable=False, server_default=TRAINING)
        )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("reference", sa.String(32), nullable=True))
    op.execute(
        sa.update(_alerts)
        .where(_alerts.c.kind.in_(("drift", "resolved")))
        .values(reference=TRAINING)
    )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("reference")
    with op.batch_alter_table("drift_scores") as batch:
        batch.drop_column("reference")
