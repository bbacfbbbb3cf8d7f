"""Our clear errors, raised from an asset or op body, as a Dagster ``Failure``.

Dagster wraps any other exception as "Error occurred while executing op …" and prints the
stack of our code beneath it, then the cause with its own stack, in every STEP_FAILURE and
RUN_FAILURE line of ``dagster job execute``, ``dagster asset materialize`` and a run
worker's output. Our error types already say what is wrong and where (the file, the field,
the hour), so :func:`clear_failures` turns them into ``dg.Failure(description="Type:
message")`` raised ``from None``: Dagster reports that description first and no chained
trace. ``MONITORING_DEBUG=1`` raises the Failure from our error instead: cause and traces
are back.

What remains is Dagster's: its console logger appends the Failure's own "Stack Trace:"
(about nine frames of Dagster's step execution and the one raise in this module) to each
failure line. A code location cannot change that format: Dagster uses the job's own
``loggers`` only when the run config names them, which the UI's Materialize button and
``dagster asset materialize`` never do, and otherwise always its coloured console logger.

A permanent error (a missing file, a bad config) says so with ``allow_retries=False``, so a
retry policy does not re-run it; an unreachable database or log store may come back and
stays retryable.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

from monitoring_pipelines.config import ConfigError
from monitoring_pipelines.pipeline.aggregation import MissingBaselineError, WindowsFailedError
from monitoring_pipelines.pipeline.drift import MissingAggregatesError
from monitoring_pipelines.pipeline.report import NoDataError
from monitoring_pipelines.sources.base import BadLogFileError, LogSourceError
from monitoring_pipelines.store.connection import DatabaseUnreachable

DEBUG_ENV = "MONITORING_DEBUG"
CLEAR_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    FileNotFoundError,
    BadLogFileError,
    LogSourceError,
    MissingBaselineError,
    MissingAggregatesError,
    WindowsFailedError,
    NoDataError,
    DatabaseUnreachable,
)
TRANSIENT: tuple[type[Exception], ...] = (DatabaseUnreachable, LogSourceError)

F = TypeVar("F", bound=Callable[..., Any])


def as_failure(error: Exception) -> dg.Failure:
    """The Failure Dagster reports for one of our errors: ``Type: message``."""
    return dg.Failure(
        description=f"{type(error).__name__}: {error}",
        metadata={"error_type": type(error).__name__},
        allow_retries=isinstance(error, TRANSIENT),
    )


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes"}


def clear_failures(fn: F) -> F:
    """Decorate an asset's or op's body (a function or a generator): our clear errors leave it
    as :func:`as_failure`; anything else (a bug) keeps Dagster's full trace."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except CLEAR_ERRORS as error:
                raise as_failure(error) from (error if _debug() else None)

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CLEAR_ERRORS as error:
            raise as_failure(error) from (error if _debug() else None)

    return call  # type: ignore[return-value]
