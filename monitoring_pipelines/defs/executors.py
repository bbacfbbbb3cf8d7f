"""Which executor runs the steps of every job: chosen once, from the environment.

``MONITORING_EXECUTOR`` = ``multiprocess`` (default: Dagster's multiprocess executor, one
process per step) or ``celery`` (dagster-celery: steps go to Celery workers through the
broker at ``CELERY_BROKER_URL``, results to ``CELERY_RESULT_BACKEND``, on the queue
``MONITORING_CELERY_QUEUE``). The URLs stay ``EnvVar``-style config, resolved at run time,
so a password in them never reaches the definitions. On Kubernetes the same code location
runs unchanged: the run launcher is instance configuration (README "Scale-out").
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from monitoring_pipelines.config import ConfigError

EXECUTOR_ENV = "MONITORING_EXECUTOR"
QUEUE_ENV = "MONITORING_CELERY_QUEUE"
DEFAULT_QUEUE = "monitoring"
EXECUTORS = ("multiprocess", "celery")


def executor_from_env(env: Mapping[str, str] | None = None) -> dg.ExecutorDefinition | None:
    """The executor ``MONITORING_EXECUTOR`` names (None: Dagster's default multiprocess one)."""
    env = os.environ if env is None else env
    kind = env.get(EXECUTOR_ENV, "multiprocess").strip() or "multiprocess"
    if kind not in EXECUTORS:
        raise ConfigError(f"{EXECUTOR_ENV}={kind!r}: valid values are {', '.join(EXECUTORS)}")
    if kind == "multiprocess":
        return None
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ConfigError(
            f"{EXECUTOR_ENV}=celery needs dagster-celery: "
            "pip install 'monitoring_pipelines[celery]'"
        ) from None
    return celery_executor.configured(
        {
            "broker": {"env": "CELERY_BROKER_URL"},
            "backend": {"env": "CELERY_RESULT_BACKEND"},
            "config_source": {"task_default_queue": env.get(QUEUE_ENV) or DEFAULT_QUEUE},
        },
        name="celery",
    )
