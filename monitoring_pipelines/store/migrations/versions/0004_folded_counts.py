"""aggregates.value_counts holds user values only; folded counts live in other_counts.

Rows written before this revision also carried the folded count under a ``__other__`` key
of ``value_counts`` (overwriting a user category of that name), so a reader could not tell
the two apart. Where ``other_counts > 0`` that key is the folded count: it is removed. Where
nothing was folded a ``__other__`` key is a user category and stays.

Revision ID: 0004_folded_counts
Revises: 0003_slack_guarantee
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004_folded_counts"
down_revision: str | None = "0003_slack_guarantee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED_KEY = "__other__"
_aggregates = sa.table(
    "aggregates",
    sa.column("id", sa.BigInteger),
    sa.column("logical_type", sa.Integer),
    sa.column("other_counts", sa.BigInteger),
    sa.column("value_counts", sa.JSON().with_variant(JSONB(), "postgresql")),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_aggregates.c.id, _aggregates.c.value_counts).where(
            _aggregates.c.logical_type == 2, _aggregates.c.other_counts > 0
        )
    ).all()
    for row_id, counts in rows:
        if counts and FOLDED_KEY in counts:
            kept = {k: v for k, v in counts.items() if k != FOLDED_KEY}
            conn.execute(
                sa.update(_aggregates).where(_aggregates.c.id == row_id).values(value_counts=kept)
            )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_aggregates.c.id, _aggregates.c.value_counts, _aggregates.c.other_counts).where(
            _aggregates.c.logical_type == 2, _aggregates.c.other_counts > 0
        )
    ).all()
    for row_id, counts, other in rows:
        restored = {**(counts or {}), FOLDED_KEY: int(other)}
        conn.execute(
            sa.update(_aggregates).where(_aggregates.c.id == row_id).values(value_counts=restored)
        )
