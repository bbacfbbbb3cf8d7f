"""segment: the slice of traffic a row of aggregates, drift_scores or model_performance
describes (``region=eu``), part of each row's natural key; every existing row is the
population, ``__all__``. On PostgreSQL the existing ``aggregates_<deployment>`` views are
redefined to show ``__all__`` only, so SQL written for them keeps its answers.

Revision ID: 0010_segments
Revises: 0009_multivariate_models
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_segments"
down_revision: str | None = "0009_multivariate_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALL = "__all__"
TABLES = ("aggregates", "drift_scores", "model_performance")
OLD_UNIQUE = ("deployment_id", "timestamp", "is_baseline", "column_name")
NEW_UNIQUE = ("deployment_id", "timestamp", "is_baseline", "segment", "column_name")


# The view's columns at this revision (store.engine.VIEW_COLUMNS then).
VIEW_COLUMNS = """
    id::bigint AS id, "timestamp", window_end, column_name, is_baseline, is_response,
    logical_type::int AS logical_type, bin_edges, bin_counts, value_counts,
    missing_counts::bigint AS missing_counts, "count"::bigint AS "count",
    mean::numeric AS mean, standard_deviation::numeric AS standard_deviation,
    "min", "max", finite_count, m2, invalid_counts, pos_inf_counts, neg_inf_counts,
    other_counts, max_categories, row_count, computed_at, rows_out_of_window,
    rows_null_timestamp, rows_undecodable, duplicate_request_ids, replaced_values
"""


def _deployment_views() -> list[str]:
    """The deployment ids of this schema's ``aggregates_<deployment>`` views over aggregates."""
    if op.get_bind().dialect.name != "postgresql":
        return []
    query = sa.text(
        "SELECT viewname FROM pg_views WHERE schemaname = current_schema() "
        "AND viewname LIKE 'aggregates\\_%' AND definition LIKE '%FROM aggregates%'"
    )
    return [name.removeprefix("aggregates_") for name in op.get_bind().execute(query).scalars()]


def _define_views(deployment_ids: list[str], population_only: bool) -> None:
    """Make each view again (dropped first: a view made by an older release may have other
    columns, which CREATE OR REPLACE cannot rename)."""
    for deployment_id in deployment_ids:
        only = f" AND segment = '{ALL}'" if population_only else ""
        op.execute(f"DROP VIEW aggregates_{deployment_id}")
        op.execute(
            f"CREATE VIEW aggregates_{deployment_id} AS SELECT {VIEW_COLUMNS} "
            f"FROM aggregates WHERE deployment_id = '{deployment_id}'{only}"
        )


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("segment", sa.Text(), nullable=False, server_default=ALL))
    with op.batch_alter_table("aggregates") as batch:
        batch.drop_constraint("uq_aggregates_window_column", type_="unique")
        batch.create_unique_constraint("uq_aggregates_window_segment_column", list(NEW_UNIQUE))
    _define_views(_deployment_views(), population_only=True)


def downgrade() -> None:
    conn = op.get_bind()
    for table in TABLES:
        conn.execute(sa.text(f"DELETE FROM {table} WHERE segment <> :all"), {"all": ALL})
    views = _deployment_views()
    _define_views(views, population_only=False)
    for deployment_id in views:
        op.execute(f"DROP VIEW IF EXISTS segments_{deployment_id}")
    with op.batch_alter_table("aggregates") as batch:
        batch.drop_constraint("uq_aggregates_window_segment_column", type_="unique")
        batch.create_unique_constraint("uq_aggregates_window_column", list(OLD_UNIQUE))
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("segment")
