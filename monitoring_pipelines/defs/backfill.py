"""``monitoring-pipelines backfill``: one deployment's range of hours as one in-process run of
``hourly_monitoring_job`` on the instance at ``$DAGSTER_HOME`` (so the UI shows it), with each
hour's progress handed to a callback as the assets log it."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from monitoring_pipelines.alerts.redact import redact
from monitoring_pipelines.config import START_ORIGINS, MonitorsConfig, config_path
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.demo import drifted_by_hour, last_complete_hour_end
from monitoring_pipelines.defs.jobs import HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.progress import parse_progress
from monitoring_pipelines.store.aggregates import read_baseline, read_windows
from monitoring_pipelines.store.drift import read_drift_scores
from monitoring_pipelines.store.engine import check_deployment_id, dagster_home, get_engine

HOUR = timedelta(hours=1)
UNCHECKED_JOB = "hourly_monitoring_job_without_quality_checks"
WARNINGS_ONLY = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

Progress = Callable[[str, int, int], None]  # (asset, hours done, hours in the run)


@dataclass(frozen=True)
class BackfillOutcome:
    """What the run did: its id, success, first failure, and per hour the rows and drift."""

    deployment_id: str
    start: datetime
    end: datetime
    run_id: str
    success: bool
    error: str | None
    seconds: float
    rows: dict[datetime, int]
    drifted: dict[datetime, list[str]]

    def drifted_hours(self) -> list[datetime]:
        return [hour for hour, columns in self.drifted.items() if columns]

    def summary(self) -> str:
        """A few lines: the run, the rows, the drifted hours and columns, the next steps."""
        hours = (self.end - self.start) // HOUR
        verdict = "succeeded" if self.success else f"FAILED ({self.error})"
        lines = [
            f"{self.deployment_id}: {hours} hour{'s' * (hours != 1)} {self.start:%Y-%m-%d %H:%M} → "
            f"{self.end:%Y-%m-%d %H:%M} UTC as one run ({self.run_id}) {verdict} in "
            f"{self.seconds:.1f} s",
            f"hours stored: {len(self.rows)}, rows: {sum(self.rows.values())}",
        ]
        drifted = self.drifted_hours()
        if drifted:
            columns = sorted({c for hour in drifted for c in self.drifted[hour]})
            lines.append(
                f"drifted hours: {len(drifted)} (first {drifted[0]:%Y-%m-%d %H:%M}, last "
                f"{drifted[-1]:%Y-%m-%d %H:%M}); columns: {', '.join(columns)}"
            )
        else:
            lines.append("drifted hours: none")
        lines.append(
            f"next: monitoring-pipelines report --deployment {self.deployment_id} "
            f"--start {self.start:%Y-%m-%dT%H:%M} --end {self.end:%Y-%m-%dT%H:%M}"
        )
        return "\n".join(lines)

    def as_json(self) -> dict:
        """The outcome with ISO times, one entry per stored hour, for ``--json``."""
        return {
            "deployment": self.deployment_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "run_id": self.run_id,
            "success": self.success,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "hours": [
                {
                    "hour": hour.isoformat(),
                    "rows": rows,
                    "drifted_columns": self.drifted.get(hour, []),
                }
                for hour, rows in self.rows.items()
            ],
        }


def check_range(
    config: MonitorsConfig, deployment_id: str, start: datetime, end: datetime
) -> list[datetime]:
    """The hours of ``start <= hour < end``, or a ValueError naming what is wrong."""
    deployment = config.deployment(check_deployment_id(deployment_id))
    if not start < end:
        raise ValueError(f"--start {start:%Y-%m-%d %H:%M} is not before --end {end:%Y-%m-%d %H:%M}")
    if start < deployment.start:
        origin = START_ORIGINS[deployment.start_from]
        raise ValueError(
            f"--start {start:%Y-%m-%d %H:%M} is before {deployment_id}'s first hour "
            f"({deployment.start:%Y-%m-%d %H:%M}, {origin}; set {deployment_id}.start in "
            f"{config_path()} to begin earlier)"
        )
    complete = last_complete_hour_end()
    if end > complete:
        raise ValueError(
            f"--end {end:%Y-%m-%d %H:%M} is after the last complete hour "
            f"(it ends {complete:%Y-%m-%d %H:%M} UTC)"
        )
    return [start + i * HOUR for i in range((end - start) // HOUR)]


def _job(defs: dg.Definitions, quality_checks: bool) -> dg.JobDefinition:
    """The hourly job, or the same assets with only the drift check selected."""
    if quality_checks:
        return defs.resolve_job_def(HOURLY_JOB)
    assets = dg.AssetSelection.assets("hourly_aggregates", "drift_scores", "drift_report")
    selection = assets.without_checks() | dg.AssetSelection.checks_for_assets("drift_scores")
    job = dg.define_asset_job(UNCHECKED_JOB, selection=selection)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(UNCHECKED_JOB)


def run_backfill(
    config: MonitorsConfig,
    deployment_id: str,
    start: datetime,
    end: datetime,
    progress: Progress = lambda asset, done, total: None,
    *,
    quality_checks: bool = True,
) -> BackfillOutcome:
    """Materialize the range as one run (``BackfillPolicy.single_run()``) and read back what
    the store now holds for it; without ``quality_checks`` the great-expectations checks
    are not selected (the hours are not validated, about 0.2 s each) but ``drift`` is."""
    hours = check_range(config, deployment_id, start, end)
    engine = get_engine()
    if read_baseline(engine, deployment_id) is None:
        raise LookupError(
            f"deployment {deployment_id!r} has no baseline_statistics yet: materialize it first "
            f"(dagster asset materialize --select baseline_statistics --partition {deployment_id})"
        )
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    defs = build_definitions(config, str(config_path()))
    run_id = str(uuid.uuid4())
    began = time.perf_counter()

    def follow(entry) -> None:
        parsed = entry.dagster_event is None and parse_progress(entry.user_message)
        if parsed:
            progress(entry.step_key, *parsed)

    with dg.DagsterInstance.get() as instance:
        instance.add_event_listener(run_id, follow)
        result = _job(defs, quality_checks).execute_in_process(
            instance=instance,
            run_config=WARNINGS_ONLY,
            run_id=run_id,
            raise_on_error=False,
            tags={
                "dagster/asset_partition_range_start": str(hour_key(deployment_id, hours[0])),
                "dagster/asset_partition_range_end": str(hour_key(deployment_id, hours[-1])),
            },
        )
    seconds = time.perf_counter() - began
    failures = [e for e in result.all_events if e.is_step_failure]
    error = failures[0].step_failure_data.error if failures else None
    windows = read_windows(engine, deployment_id, start, end, read_baseline(engine, deployment_id))
    scores = read_drift_scores(engine, deployment_id, start, end, "hour")
    return BackfillOutcome(
        deployment_id,
        start,
        end,
        run_id,
        result.success,
        error and redact(f"{failures[0].step_key}: {error.cls_name}: {error.message.strip()}"),
        seconds,
        {hour: profile.row_count for hour, profile in windows.items()},
        drifted_by_hour(scores),
    )
