"""Whether the code location's schedules and sensors run, as the Dagster instance records it
(started or stopped in the UI or with ``dagster schedule|sensor start``), else as declared in
code: what ``monitoring-pipelines status`` shows."""

from __future__ import annotations

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus

from monitoring_pipelines.config import config_path, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.store.engine import dagster_home

SET_BY_USER = {InstigatorStatus.RUNNING: "running", InstigatorStatus.STOPPED: "stopped"}


def instigator_states(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, str]:
    """Schedule or sensor name → ``running`` or ``stopped``."""
    stored = {state.name: state.status for state in instance.all_instigator_state()}
    repository = defs.get_repository_def()
    states = {}
    for definition in [*repository.schedule_defs, *repository.sensor_defs]:
        status = SET_BY_USER.get(stored.get(definition.name))
        states[definition.name] = status or definition.default_status.value.lower()
    return states


def read_states() -> dict[str, str]:
    """The states in the instance at ``$DAGSTER_HOME`` (an error when there is none)."""
    home = dagster_home()
    if not (home / "dagster.yaml").is_file() and not (home / "storage").is_dir():
        raise FileNotFoundError(f"no Dagster instance at {home} (set DAGSTER_HOME)")
    defs = build_definitions(load_config(), str(config_path()))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instigator_states(defs, instance)
