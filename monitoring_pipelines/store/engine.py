"""Where the monitoring tables live: one SQLAlchemy engine per database URL.

SQLite under ``$DAGSTER_HOME`` by default (nothing to install); PostgreSQL when
``MONITORING_DATABASE_URL`` is set. Schema creation is automatic and idempotent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from monitoring_pipelines.store.schema import metadata

DATABASE_URL_ENV = "MONITORING_DATABASE_URL"
DEPLOYMENT_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def dagster_home() -> Path:
    """``$DAGSTER_HOME``, or ``.dagster_home`` in the working directory when unset."""
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()


def database_url() -> str:
    """The configured database URL; the embedded SQLite file when none is set."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'monitoring.db'}"


def redacted(url: str) -> str:
    """The URL with any password hidden, safe for logs and errors."""
    return make_url(url).render_as_string(hide_password=True)


def get_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: :func:`database_url`, read now) with the schema in place."""
    return _engine(url or database_url())


@cache
def _engine(url: str) -> Engine:
    """One engine per URL for the whole process."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL so readers (the UI, sensors) never block the writer of a partition."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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
    other_counts, max_categories, row_count, computed_at
"""


def ensure_deployment_views(engine: Engine, deployment_ids: Iterable[str]) -> None:
    """On PostgreSQL, create ``aggregates_<deployment_id>`` views (idempotent)."""
    if engine.dialect.name != "postgresql":
        return
    # DDL takes no bind parameters; the id is a checked identifier, so it is safe inline.
    with engine.begin() as conn:
        for deployment_id in deployment_ids:
            name = f"aggregates_{check_deployment_id(deployment_id)}"
            conn.execute(
                text(
                    f"CREATE OR REPLACE VIEW {name} AS SELECT {VIEW_COLUMNS} "
                    f"FROM aggregates WHERE deployment_id = '{deployment_id}'"
                )
            )
