"""alerts.segment: which slice of traffic a drift or resolved alert is about (``region=eu``),
part of its history and cooldown; every existing alert is the population's, ``__all__``.

Revision ID: 0012_alert_segments
Revises: 0011_misfiled_rows
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_alert_segments"
down_revision: str | None = "0011_misfiled_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALL = "__all__"


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("segment", sa.Text(), nullable=False, server_default=ALL))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM alerts WHERE segment <> :all").bindparams(all=ALL))
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("segment")
