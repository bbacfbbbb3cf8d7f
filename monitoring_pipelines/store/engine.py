"""Where the monitoring tables live: one SQLAlchemy engine per database URL and process.

SQLite under ``$DAGSTER_HOME`` by default (nothing to install); PostgreSQL when
``MONITORING_DATABASE_URL`` is set. The first :func:`get_engine` for a URL in a process
upgrades its schema to the newest Alembic revision (``store.migrate``); the per-deployment
views are created at run time from monitors.yaml.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.connection import create_store_engine
from monitoring_pipelines.store.locks import MIGRATIONS_LOCK, write_transaction
from monitoring_pipelines.store.migrate import upgrade

DATABASE_URL_ENV = "MONITORING_DATABASE_URL"
DEPLOYMENT_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def dagster_home() -> Path:
    """``$DAGSTER_HOME``, or ``.dagster_home`` in the working directory when unset."""
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()


def database_url() -> str:
    """The configured database URL; the embedded SQLite file when none is set."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return checked_url(url, DATABASE_URL_ENV)
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'monitoring.db'}"


def checked_url(url: str, variable: str) -> str:
    """``url`` (from the environment variable ``variable``) once SQLAlchemy can parse it; else
    an error naming the variable, never the value (it may hold a password)."""
    try:
        make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError(
            f"{variable} is not a SQLAlchemy database URL (expected e.g. "
            "postgresql+psycopg://user:password@host:5432/database); its value is not "
            "shown, it may hold a password"
        ) from None
    return url


def get_engine(url: str | None = None) -> Engine:
    """The process's pooled engine for ``url`` (default: :func:`database_url`, read now), its
    schema upgraded to head the first time."""
    url = url or database_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            upgrade(url)
            engine = _engines[url] = create_store_engine(url)
    return engine


def _after_fork_in_child() -> None:
    """A lock another thread held at fork time would never be released in the child."""
    global _engines_lock
    _engines_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def check_deployment_id(deployment_id: str) -> str:
    """Reject ids that are not safe as SQL identifiers and partition keys."""
    if not isinstance(deployment_id, str) or not DEPLOYMENT_ID.match(deployment_id):
        raise ValueError(
            f"unsafe deployment id {deployment_id!r}: use [a-z][a-z0-9_]* up to 48 characters"
        )
    return deployment_id


VIEW_COLUMNS = """
    id::bigint AS id, "timestamp", window_end, column_name, is_baseline, is_response,
    logical_type::int AS logical_type, bin_edges, bin_counts, value_counts,
    missing_counts::bigint AS missing_counts, "count"::bigint AS "count",
    mean::numeric AS mean, standard_deviation::numeric AS standard_deviation,
    "min", "max", finite_count, m2, invalid_counts, pos_inf_counts, neg_inf_counts,
    other_counts, max_categories, row_count, computed_at, rows_out_of_window,
    rows_null_timestamp, rows_undecodable, duplicate_request_ids, replaced_values,
    log_files, rows_misfiled, rows_from_neighbours
"""


def ensure_deployment_views(engine: Engine, deployment_ids: Iterable[str]) -> None:
    """On PostgreSQL, create the ``aggregates_<deployment_id>`` view (the population,
    segment ``__all__``, and the latest baseline version, so SQL written for per-deployment
    tables keeps its answers) and the ``segments_<deployment_id>`` view (every segment, with
    its ``segment`` column, the latest baseline version too); idempotent."""
    if engine.dialect.name != "postgresql":
        return
    # Under the schema lock: concurrent CREATE OR REPLACE VIEW of one name fail on PostgreSQL
    # ("tuple concurrently updated"), and a migration never sees a view half made.
    # DDL takes no bind parameters; the id is a checked identifier, so it is safe inline.
    with write_transaction(engine, *MIGRATIONS_LOCK) as conn:
        for deployment_id in deployment_ids:
            check_deployment_id(deployment_id)
            # The latest baseline version only: after a retraining the table keeps every
            # version, and SQL written for one baseline row per column keeps its answers.
            latest = (
                '(NOT is_baseline OR "timestamp" = (SELECT max(b."timestamp") '
                f"FROM aggregates b WHERE b.deployment_id = '{deployment_id}' AND b.is_baseline))"
            )
            rows = f"FROM aggregates WHERE deployment_id = '{deployment_id}' AND {latest}"
            conn.execute(
                text(
                    f"CREATE OR REPLACE VIEW aggregates_{deployment_id} AS SELECT {VIEW_COLUMNS} "
                    f"{rows} AND segment = '{ALL}'"
                )
            )
            conn.execute(
                text(
                    f"CREATE OR REPLACE VIEW segments_{deployment_id} AS SELECT segment, "
                    f"{VIEW_COLUMNS} {rows}"
                )
            )
