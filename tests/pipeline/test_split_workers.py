"""A split backfill's workers come from a fork server that imported great-expectations, the
PostgreSQL driver and numba once, so no worker pays their import again, and each still starts
without the parent's state."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor

from monitoring_pipelines.pipeline.split import WORKER_MODULES, worker_context

MARK = "_split_workers_parent_state"


def _worker_facts() -> tuple[int, bool, bool]:
    """The worker's pid, whether the preloaded modules were loaded before this task ran, and
    whether the parent's module-level state leaked in."""
    loaded = all(name in sys.modules for name in (*WORKER_MODULES, "psycopg", "numba"))
    return os.getpid(), loaded, hasattr(sys.modules[__name__], MARK)


def test_workers_start_with_their_libraries_already_imported():
    setattr(sys.modules[__name__], MARK, True)  # set after import: a fork of us would see it
    try:
        with ProcessPoolExecutor(2, mp_context=worker_context()) as pool:
            facts = [pool.submit(_worker_facts).result() for _ in range(2)]
    finally:
        delattr(sys.modules[__name__], MARK)
    assert worker_context().get_start_method() == "forkserver"
    assert all(pid != os.getpid() for pid, _, _ in facts)
    assert all(loaded for _, loaded, _ in facts)
    assert not any(leaked for _, _, leaked in facts)
