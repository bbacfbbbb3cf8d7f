"""Part 5's code location for runs in a fresh process: the definitions + ``UNCHECKED_JOB``.

``dagster job execute -m benchmarks.backfill_location -j hourly_monitoring_without_checks``
loads it like ``monitoring_pipelines.definitions`` (``MONITORS_CONFIG`` names monitors.yaml).
"""

from benchmarks.backfill_jobs import with_unchecked_job
from monitoring_pipelines.config import config_path, load_config
from monitoring_pipelines.defs.build import build_definitions

defs = with_unchecked_job(build_definitions(load_config(), str(config_path())))
