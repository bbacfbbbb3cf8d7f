"""Dagster resources: the monitoring configuration and the statistics store.

The database URL may hold a password, so it comes from the environment only
(``dagster.EnvVar``), resolved at run time; without it the embedded SQLite file
under ``$DAGSTER_HOME`` is used.
"""

import os

import dagster as dg
from sqlalchemy import Engine

from monitoring_pipelines.config import MonitorsConfig, load_config
from monitoring_pipelines.store.engine import DATABASE_URL_ENV, get_engine


class MonitorsResource(dg.ConfigurableResource):
    """``monitors.yaml`` (default: ``$MONITORS_CONFIG`` or ./monitors.yaml)."""

    path: str | None = None

    def load(self) -> MonitorsConfig:
        return load_config(self.path)


class StoreResource(dg.ConfigurableResource):
    """The relational store of aggregates, drift scores and alerts."""

    database_url: str | None = None

    def engine(self) -> Engine:
        return get_engine(self.database_url)


def store_resource() -> StoreResource:
    """PostgreSQL through ``MONITORING_DATABASE_URL`` when set, else embedded SQLite."""
    if os.environ.get(DATABASE_URL_ENV):
        return StoreResource(database_url=dg.EnvVar(DATABASE_URL_ENV))
    return StoreResource()
