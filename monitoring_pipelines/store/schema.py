"""The monitoring tables, in SQLAlchemy Core. Table and column names are a contract.

Types adapt to the backend: on PostgreSQL ``bin_edges`` is ``float8[]``,
``bin_counts`` is ``bigint[]`` and JSON columns are ``jsonb``; on SQLite they are
JSON text. Every column is documented in README.md (section "Tables").
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB

from monitoring_pipelines.stats.segments import ALL

metadata = MetaData()

Float8 = Float(53).with_variant(DOUBLE_PRECISION(), "postgresql")
Json = JSON().with_variant(JSONB(), "postgresql")
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
FloatArray = JSON().with_variant(ARRAY(DOUBLE_PRECISION()), "postgresql")
BigIntArray = JSON().with_variant(ARRAY(BigInteger()), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime(timezone=True)


def segment_column() -> Column:
    """The slice of traffic a row describes (``region=eu``); ``__all__`` is the population,
    the value of every row written before segments existed."""
    return Column("segment", Text, nullable=False, server_default=ALL)


aggregates = Table(
    "aggregates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment_id", String(48), nullable=False),
    Column("timestamp", Timestamp, nullable=False),
    Column("window_end", Timestamp, nullable=True),
    Column("column_name", Text, nullable=False),
    Column("is_baseline", Boolean, nullable=False),
    Column("is_response", Boolean, nullable=False),
    Column("logical_type", Integer, nullable=False),
    Column("bin_edges", FloatArray, nullable=True),
    Column("bin_counts", BigIntArray, nullable=True),
    Column("value_counts", Json, nullable=True),
    Column("missing_counts", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("mean", Float8, nullable=True),
    Column("standard_deviation", Float8, nullable=True),
    Column("min", Float8, nullable=True),
    Column("max", Float8, nullable=True),
    Column("finite_count", BigInteger, nullable=True),
    Column("m2", Float8, nullable=True),
    Column("invalid_counts", BigInteger, nullable=False, default=0),
    Column("pos_inf_counts", BigInteger, nullable=True),
    Column("neg_inf_counts", BigInteger, nullable=True),
    Column("other_counts", BigInteger, nullable=True),
    Column("max_categories", Integer, nullable=True),
    Column("row_count", BigInteger, nullable=False),
    Column("computed_at", Timestamp, nullable=False),
    Column("rows_out_of_window", BigInteger, nullable=True),
    Column("rows_null_timestamp", BigInteger, nullable=True),
    Column("rows_undecodable", BigInteger, nullable=True),
    Column("duplicate_request_ids", BigInteger, nullable=True),
    Column("replaced_values", BigInteger, nullable=True),
    Column("log_files", BigInteger, nullable=True),
    Column("rows_misfiled", BigInteger, nullable=True),
    Column("rows_from_neighbours", BigInteger, nullable=True),
    segment_column(),
    UniqueConstraint(
        "deployment_id",
        "timestamp",
        "is_baseline",
        "segment",
        "column_name",
        name="uq_aggregates_window_segment_column",
    ),
    Index("ix_aggregates_deployment_window", "deployment_id", "is_baseline", "timestamp"),
)

# A row is one (deployment, window_start, granularity, reference, column_name, metric): drift
# against the training baseline (``reference`` = training) and against production references
# (``stats.references``: last_week, previous_day, a named fixed window) side by side. A window
# is written as one partition holding every reference's rows.
drift_scores = Table(
    "drift_scores",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment_id", String(48), nullable=False),
    Column("window_start", Timestamp, nullable=False),
    Column("window_end", Timestamp, nullable=False),
    Column("granularity", String(32), nullable=False),
    Column("reference", String(32), nullable=False, server_default="training"),
    Column("column_name", Text, nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float8, nullable=True),
    Column("p_value", Float8, nullable=True),
    Column("threshold", Float8, nullable=True),
    Column("status", String(32), nullable=False),
    Column("drifted", Boolean, nullable=False),
    Column("reference_size", BigInteger, nullable=False),
    Column("current_size", BigInteger, nullable=False),
    Column("detail", Json, nullable=True),
    Column("computed_at", Timestamp, nullable=False),
    segment_column(),
    Index("ix_drift_scores_deployment_window", "deployment_id", "window_start", "granularity"),
    sqlite_autoincrement=True,  # never reuse ids: a rewritten window must look new to a cursor
)

# The noise curve of each distance metric of each monitored column, learned from the reference
# when the baseline is fitted (``stats.calibration``): the metric's mean and standard deviation
# on identical distributions at each window size. Replaced with the baseline.
calibration = Table(
    "calibration",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment_id", String(48), nullable=False),
    Column("column_name", Text, nullable=False),
    Column("metric", String(64), nullable=False),
    Column("sizes", FloatArray, nullable=False),
    Column("means", FloatArray, nullable=False),
    Column("stds", FloatArray, nullable=False),
    Column("computed_at", Timestamp, nullable=False),
    UniqueConstraint("deployment_id", "column_name", "metric", name="uq_calibration_column_metric"),
)

# Each deployment's reconstruction model for multivariate drift (``stats.multivariate``), fitted
# with the baseline: the JSON form of the model, or null and the reason it has none. Replaced
# with the baseline.
multivariate_models = Table(
    "multivariate_models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment_id", String(48), nullable=False),
    Column("model", NullableJson, nullable=True),
    Column("reason", Text, nullable=True),
    Column("computed_at", Timestamp, nullable=False),
    UniqueConstraint("deployment_id", name="uq_multivariate_models_deployment"),
)

model_performance = Table(
    "model_performance",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment_id", String(48), nullable=False),
    Column("window_start", Timestamp, nullable=False),
    Column("window_end", Timestamp, nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float8, nullable=True),
    Column("n_labelled", BigInteger, nullable=False),
    Column("computed_at", Timestamp, nullable=False),
    Column("kind", String(16), nullable=False, server_default="realized"),
    Column("status", String(32), nullable=True),
    Column("n_scored", BigInteger, nullable=True),
    Column("labels_through", Timestamp, nullable=True),
    Column("details", NullableJson, nullable=True),
    segment_column(),
    Index("ix_model_performance_deployment_window", "deployment_id", "window_start"),
)

# The outbox. One row per alert (kind drift, resolved, no_data, run_failure; drift and resolved
# rows name their ``reference``), per window's metrics
# (kind metrics) or per operator notice (kind notice); each channel has its own status:
# pending → sending → sent, unconfirmed (a Slack post of unknown outcome, until a lookup
# settles it), failed (a permanent error), or skipped (not for that channel, or the channel
# is not configured). ``dedup_key`` is unique: an alert is enqueued once.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedup_key", Text, nullable=False, unique=True),
    Column("deployment_id", String(48), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(32), nullable=False),
    Column("window_start", Timestamp, nullable=True),
    Column("window_end", Timestamp, nullable=True),
    Column("granularity", String(32), nullable=True),
    Column("column_name", Text, nullable=True),
    Column("metric", String(64), nullable=True),
    Column("reference", String(32), nullable=True),
    Column("value", Float8, nullable=True),
    Column("p_value", Float8, nullable=True),
    Column("threshold", Float8, nullable=True),
    Column("status", String(32), nullable=True),
    Column("reason", Text, nullable=True),
    Column("payload", NullableJson, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("slack_channel", Text, nullable=True),
    Column("slack_status", String(16), nullable=False, default="pending"),
    Column("slack_attempts", Integer, nullable=False, default=0),
    Column("slack_last_error", Text, nullable=True),
    Column("slack_claimed_at", Timestamp, nullable=True),
    Column("slack_sent_at", Timestamp, nullable=True),
    Column("slack_ts", Text, nullable=True),
    Column("slack_unconfirmed", Boolean, nullable=False, default=False),
    Column("slack_guarantee", String(16), nullable=True),
    Column("slack_marker", String(40), nullable=True),
    Column("cloudwatch", NullableJson, nullable=True),
    Column("cloudwatch_status", String(16), nullable=False, default="pending"),
    Column("cloudwatch_attempts", Integer, nullable=False, default=0),
    Column("cloudwatch_last_error", Text, nullable=True),
    Column("cloudwatch_claimed_at", Timestamp, nullable=True),
    Column("cloudwatch_sent_at", Timestamp, nullable=True),
    segment_column(),
    Index("ix_alerts_slack_status", "slack_status", "id"),
    Index("ix_alerts_cloudwatch_status", "cloudwatch_status", "id"),
    Index("ix_alerts_history", "deployment_id", "column_name", "metric", "window_start"),
)

# One row per window written to a partitioned table (``source``: drift_scores, ...), updated by
# every rewrite in the writing transaction. ``commit_seq`` comes from ``store_counters`` as the
# transaction's last step, and the counter row stays locked until commit, so commit_seq order is
# commit order: a judge (a sensor) whose cursor is the last commit_seq it judged never skips a
# window still in flight, and a rewritten window comes back once with a higher commit_seq.
written_windows = Table(
    "written_windows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("deployment_id", String(48), nullable=False),
    Column("granularity", String(32), nullable=False),
    Column("window_start", Timestamp, nullable=False),
    Column("window_end", Timestamp, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("commit_seq", BigInteger, nullable=False),
    Column("written_at", Timestamp, nullable=False),
    UniqueConstraint(
        "source", "deployment_id", "granularity", "window_start", name="uq_written_windows_window"
    ),
    Index("ix_written_windows_commit_order", "source", "granularity", "commit_seq", unique=True),
)

# Named counters that only grow (never reused, also after deletes): ``window_commit_seq``.
store_counters = Table(
    "store_counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
