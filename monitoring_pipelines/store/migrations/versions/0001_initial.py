"""The schema of release 0.1.0: aggregates, drift_scores, model_performance and alerts.

Databases created by that release (``metadata.create_all``, no ``alembic_version`` table) are
stamped at this revision by ``store.migrate`` instead of running it. The types are spelled out
here, not imported from ``store/schema.py``, so this revision never changes with the code.

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLOAT8 = sa.Float(53).with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
FLOAT_ARRAY = sa.JSON().with_variant(postgresql.ARRAY(postgresql.DOUBLE_PRECISION()), "postgresql")
BIGINT_ARRAY = sa.JSON().with_variant(postgresql.ARRAY(sa.BigInteger()), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "aggregates",
        _id(),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=True),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("is_baseline", sa.Boolean(), nullable=False),
        sa.Column("is_response", sa.Boolean(), nullable=False),
        sa.Column("logical_type", sa.Integer(), nullable=False),
        sa.Column("bin_edges", FLOAT_ARRAY, nullable=True),
        sa.Column("bin_counts", BIGINT_ARRAY, nullable=True),
        sa.Column("value_counts", JSON, nullable=True),
        sa.Column("missing_counts", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("mean", FLOAT8, nullable=True),
        sa.Column("standard_deviation", FLOAT8, nullable=True),
        sa.Column("min", FLOAT8, nullable=True),
        sa.Column("max", FLOAT8, nullable=True),
        sa.Column("finite_count", sa.BigInteger(), nullable=True),
        sa.Column("m2", FLOAT8, nullable=True),
        sa.Column("invalid_counts", sa.BigInteger(), nullable=False),
        sa.Column("pos_inf_counts", sa.BigInteger(), nullable=True),
        sa.Column("neg_inf_counts", sa.BigInteger(), nullable=True),
        sa.Column("other_counts", sa.BigInteger(), nullable=True),
        sa.Column("max_categories", sa.Integer(), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint(
            "deployment_id",
            "timestamp",
            "is_baseline",
            "column_name",
            name="uq_aggregates_window_column",
        ),
    )
    op.create_index(
        "ix_aggregates_deployment_window",
        "aggregates",
        ["deployment_id", "is_baseline", "timestamp"],
    )
    op.create_table(
        "drift_scores",
        _id(),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("granularity", sa.String(32), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", FLOAT8, nullable=True),
        sa.Column("p_value", FLOAT8, nullable=True),
        sa.Column("threshold", FLOAT8, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("reference_size", sa.BigInteger(), nullable=False),
        sa.Column("current_size", sa.BigInteger(), nullable=False),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("computed_at", TIMESTAMP, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_drift_scores_deployment_window",
        "drift_scores",
        ["deployment_id", "window_start", "granularity"],
    )
    op.create_table(
        "model_performance",
        _id(),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", FLOAT8, nullable=True),
        sa.Column("n_labelled", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "ix_model_performance_deployment_window",
        "model_performance",
        ["deployment_id", "window_start"],
    )
    op.create_table(
        "alerts",
        _id(),
        sa.Column("dedup_key", sa.Text(), nullable=False, unique=True),
        sa.Column("deployment_id", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=True),
        sa.Column("window_end", TIMESTAMP, nullable=True),
        sa.Column("granularity", sa.String(32), nullable=True),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("metric", sa.String(64), nullable=True),
        sa.Column("value", FLOAT8, nullable=True),
        sa.Column("p_value", FLOAT8, nullable=True),
        sa.Column("threshold", FLOAT8, nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", NULLABLE_JSON, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("slack_channel", sa.Text(), nullable=True),
        sa.Column("slack_status", sa.String(16), nullable=False),
        sa.Column("slack_attempts", sa.Integer(), nullable=False),
        sa.Column("slack_last_error", sa.Text(), nullable=True),
        sa.Column("slack_claimed_at", TIMESTAMP, nullable=True),
        sa.Column("slack_sent_at", TIMESTAMP, nullable=True),
        sa.Column("slack_ts", sa.Text(), nullable=True),
        sa.Column("slack_unconfirmed", sa.Boolean(), nullable=False),
        sa.Column("cloudwatch", NULLABLE_JSON, nullable=True),
        sa.Column("cloudwatch_status", sa.String(16), nullable=False),
        sa.Column("cloudwatch_attempts", sa.Integer(), nullable=False),
        sa.Column("cloudwatch_last_error", sa.Text(), nullable=True),
        sa.Column("cloudwatch_claimed_at", TIMESTAMP, nullable=True),
        sa.Column("cloudwatch_sent_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_alerts_slack_status", "alerts", ["slack_status", "id"])
    op.create_index("ix_alerts_cloudwatch_status", "alerts", ["cloudwatch_status", "id"])
    op.create_index(
        "ix_alerts_history", "alerts", ["deployment_id", "column_name", "metric", "window_start"]
    )


def downgrade() -> None:
    for table in ("alerts", "model_performance", "drift_scores", "aggregates"):
        op.drop_table(table)
