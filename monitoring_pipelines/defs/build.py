"""Assemble one ``Definitions`` object from a validated ``monitors.yaml``."""

import dagster as dg

from monitoring_pipelines.config import MonitorsConfig
from monitoring_pipelines.defs.alerting import build_alerting
from monitoring_pipelines.defs.assets.aggregates import build_hourly_aggregates
from monitoring_pipelines.defs.assets.baseline import build_baseline_statistics
from monitoring_pipelines.defs.assets.drift import build_drift_scores
from monitoring_pipelines.defs.assets.performance import build_model_performance
from monitoring_pipelines.defs.assets.report import build_drift_report
from monitoring_pipelines.defs.executors import executor_from_env
from monitoring_pipelines.defs.jobs import (
    build_baseline_job,
    build_hourly_job,
    build_hourly_schedule,
)
from monitoring_pipelines.defs.late_labels import build_late_labels_job, late_labels_sensor
from monitoring_pipelines.defs.resources import MonitorsResource, store_resource
from monitoring_pipelines.defs.retraining import retraining_job, retraining_sensor


def build_definitions(config: MonitorsConfig, config_path: str | None = None) -> dg.Definitions:
    baseline = build_baseline_statistics(config)
    hourly = build_hourly_aggregates(config, baseline)
    drift = build_drift_scores(config, hourly)
    report = build_drift_report(config, drift)
    performance = build_model_performance(config)
    job = build_hourly_job([hourly, drift, report, performance])
    baseline_job = build_baseline_job(baseline)
    alert_jobs, sensors, sinks = build_alerting(config)
    return dg.Definitions(
        assets=[baseline, hourly, drift, report, performance],
        jobs=[baseline_job, job, *alert_jobs, retraining_job, build_late_labels_job(performance)],
        schedules=[build_hourly_schedule(config, job)],
        sensors=[*sensors, retraining_sensor, late_labels_sensor],
        executor=executor_from_env(),
        resources={"monitors": MonitorsResource(path=config_path), "store": store_resource()}
        | sinks,
    )
