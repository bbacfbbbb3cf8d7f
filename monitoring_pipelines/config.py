"""``monitors.yaml``: the deployments to monitor, validated on load.

A bad file fails with a :class:`ConfigError` whose message names the file and the
field (``deployments[0].id``) and says what is wrong. Paths may use ``${VAR}``
environment variables (``${DAGSTER_HOME}`` defaults to ``.dagster_home``) and
are resolved relative to the file.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitoring_pipelines.sources.parquet import first_hour
from monitoring_pipelines.stats.alert_policy import SEVERITIES, AlertSettings
from monitoring_pipelines.stats.binning import DEFAULT_BINS
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from monitoring_pipelines.stats.freshness import (
    HISTORY_DAYS,
    MIN_FRACTION,
    MIN_SAME_HOUR,
    FreshnessPolicy,
)
from monitoring_pipelines.stats.metrics.registry import METRICS, check_threshold
from monitoring_pipelines.stats.model_signals import DEFAULT_LOW_CONFIDENCE
from monitoring_pipelines.stats.multiclass_scores import DEFAULT_TOLERANCE as PROBABILITY_TOLERANCE
from monitoring_pipelines.stats.multiple_testing import CORRECTIONS
from monitoring_pipelines.stats.multivariate import DEFAULT_CHUNKS, DEFAULT_VARIANCE
from monitoring_pipelines.stats.performance import TASKS
from monitoring_pipelines.stats.performance_alerts import (
    BASELINE_MARGIN,
    PerformanceRules,
    check_rule,
    rule_metrics,
)
from monitoring_pipelines.stats.profile import Kind
from monitoring_pipelines.stats.references import FIXED_WINDOW, TRAINING, Reference
from monitoring_pipelines.stats.references import KINDS as REFERENCE_KINDS
from monitoring_pipelines.stats.scoring import DEFAULT_CORRECTION, DEFAULT_MIN_ROWS
from monitoring_pipelines.stats.segments import DEFAULT_MAX_VALUES, RESERVED, SegmentKey
from monitoring_pipelines.stats.windows import GRANULARITIES
from monitoring_pipelines.store.engine import DEPLOYMENT_ID, dagster_home

CONFIG_ENV = "MONITORS_CONFIG"
DEFAULT_CONFIG = "monitors.yaml"


class ConfigError(ValueError):
    """A ``monitors.yaml`` that cannot be used, with the field that is wrong."""


# Strict numbers: YAML `true` is not 1 bin, and NaN or inf are not a count or a duration.
Count = Annotated[int, Field(strict=True, gt=0)]
Number = Annotated[float, Field(strict=True)]
Minutes = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Severity = Literal[SEVERITIES]


class Role(StrEnum):
    """What a log column is to the monitor."""

    FEATURE = "feature"
    PREDICTION = "prediction"
    CONFIDENCE = "confidence"
    SCORE = "score"
    LATENCY = "latency"
    LABEL = "label"
    TIMESTAMP = "timestamp"
    REQUEST_ID = "request_id"
    SEGMENT = "segment"  # read only to slice the traffic (a channel, a model version)


# Latency has no training-time baseline, so it is declared but not scored for drift.
MONITORED_ROLES = {Role.FEATURE, Role.PREDICTION, Role.CONFIDENCE, Role.SCORE}
RESPONSE_ROLES = {Role.PREDICTION, Role.CONFIDENCE, Role.SCORE}


def _deployment_id(value: str) -> str:
    if not DEPLOYMENT_ID.match(value):
        raise ValueError(
            f"unsafe deployment id {value!r}: "
            "must match [a-z][a-z0-9_]* and be at most 48 characters"
        )
    return value


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _reject_duplicates(what: str, names: list[str]) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what} {duplicates}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnConfig(Strict):
    """One column of the scoring logs: its logical type and role."""

    name: Annotated[str, Field(min_length=1)]
    type: Kind | None = None
    role: Role = Role.FEATURE

    @model_validator(mode="after")
    def _type_for_monitored(self) -> ColumnConfig:
        if self.role in MONITORED_ROLES | {Role.LABEL} and self.type is None:
            raise ValueError(f"column {self.name!r} with role {self.role.value} needs a type")
        return self


class ParquetLogs(Strict):
    type: Literal["parquet"] = "parquet"
    path: Path
    timestamp_column: str


class SqlLogs(Strict):
    """Logs in a SQL table; the URL comes from the environment variable ``url_env``."""

    type: Literal["sql"]
    url_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]
    table: str
    timestamp_column: str
    deployment_column: str | None = None
    # PostgreSQL: profile each hour inside the database (only aggregates cross the wire)
    # when the run does not validate raw rows with great-expectations.
    pushdown: bool = True
    pushdown_workers: Annotated[int, Field(strict=True, ge=1, le=16)] = 2


class KafkaLogs(Strict):
    """Logs as CloudEvents on a Kafka topic (created by the user); the bootstrap servers come
    from the environment variable ``bootstrap_servers_env``. An hour's read also takes the
    events stamped inside it that arrive up to ``late_minutes`` after its end (at least
    ``lag_minutes``)."""

    type: Literal["kafka"]
    bootstrap_servers_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]
    topic: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
    timestamp_column: str = "timestamp"
    late_minutes: Annotated[int, Field(strict=True, ge=0, le=7 * 24 * 60)] = 60


def _class_names(value: Any) -> Any:
    """YAML reads ``1`` as a number: class names are the label's values as strings (as
    ``stats.performance.class_labels`` makes them)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


class LabelsSettings(Strict):
    """What the labels are: the task, its positive class, how late labels may still arrive;
    a multiclass model's classes and each class's probability column in the logs."""

    arrival_column: str
    task: Literal[TASKS]
    positive_class: str | None = None
    label_horizon_hours: Annotated[int, Field(strict=True, ge=1, le=24 * 366)] = 168
    classes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=2)] | None = None
    probabilities: dict[str, Annotated[str, Field(min_length=1)]] | None = None
    probability_tolerance: Annotated[float, Field(strict=True, gt=0, lt=1)] = PROBABILITY_TOLERANCE

    @field_validator("classes", "probabilities", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _class_names(value)

    @model_validator(mode="after")
    def _positive_class_for_binary(self) -> LabelsSettings:
        if self.task == "binary" and self.positive_class is None:
            raise ValueError("task binary needs positive_class (the label value that is 1)")
        if self.task != "binary" and self.positive_class is not None:
            raise ValueError(f"positive_class is only for task binary, not {self.task}")
        return self

    @model_validator(mode="after")
    def _probabilities_for_multiclass(self) -> LabelsSettings:
        for name in ("classes", "probabilities"):
            if getattr(self, name) is not None and self.task != "multiclass":
                hint = " (a binary model logs its positive-class probability as the score column)"
                raise ValueError(
                    f"{name} is only for task multiclass, not {self.task}"
                    + (hint if self.task == "binary" else "")
                )
        if self.classes is not None:
            _reject_duplicates("classes", self.classes)
        if self.probabilities is None:
            return self
        if self.classes is None:
            raise ValueError(
                "probabilities needs classes (the model's classes, every one with a column)"
            )
        for name in self.probabilities:
            if name not in self.classes:
                raise ValueError(
                    f"probabilities.{name}: unknown class {name!r} "
                    f"(classes: {', '.join(self.classes)})"
                )
        absent = [c for c in self.classes if c not in self.probabilities]
        if absent:
            raise ValueError(
                f"probabilities: class(es) {absent} have no probability column "
                "(every class in classes needs one)"
            )
        columns = list(self.probabilities.values())
        for name, column in self.probabilities.items():
            if columns.count(column) > 1:
                others = [c for c, col in self.probabilities.items() if col == column]
                raise ValueError(
                    f"probabilities.{name}: classes {others} name the same column {column!r}"
                )
        return self


class ParquetLabels(LabelsSettings):
    """Labels in a Parquet file or a folder of them (any layout, read recursively)."""

    type: Literal["parquet"] = "parquet"
    path: Path


class SqlLabels(LabelsSettings):
    """Labels in a SQL table; the URL comes from the environment variable ``url_env``."""

    type: Literal["sql"]
    url_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]
    table: str
    deployment_column: str | None = None


class RetrainingConfig(Strict):
    """When to ask for retraining (any rule triggers) and what retraining calls: a Python
    callable ``module:function`` or a webhook whose URL is in the environment variable
    ``webhook_url_env``. ``dry_run`` records and alerts the decision only."""

    accuracy_floor: Annotated[float, Field(gt=0, le=1)] | None = None
    # worse than the baseline (the validation set's performance) by more than this margin,
    # on accuracy (classification) or RMSE (regression)
    baseline_margin: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)] | None = None
    min_drifted_features: Annotated[int, Field(ge=1)] | None = None
    consecutive_windows: Annotated[int, Field(ge=1)] | None = None
    # the CBPE estimate (no labels needed) below this floor for estimated_hours hours in a row
    estimated_accuracy_floor: Annotated[float, Field(gt=0, le=1)] | None = None
    estimated_hours: Annotated[int, Field(strict=True, ge=1)] = 3
    cooldown_hours: Annotated[float, Field(gt=0)] = 24
    # the accuracy and baseline rules judge the latest hour with at least this many labels:
    # labels arrive late, so the newest hours' numbers rest on a handful of rows
    min_labelled_rows: Count = 100
    dry_run: bool = False
    callable: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] | None = None
    webhook_url_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None

    @model_validator(mode="after")
    def _rule_and_target(self) -> RetrainingConfig:
        rules = (
            self.accuracy_floor,
            self.baseline_margin,
            self.min_drifted_features,
            self.consecutive_windows,
            self.estimated_accuracy_floor,
        )
        if all(rule is None for rule in rules):
            raise ValueError(
                "no rule: set accuracy_floor, baseline_margin, min_drifted_features, "
                "consecutive_windows or estimated_accuracy_floor"
            )
        if self.callable is not None and self.webhook_url_env is not None:
            raise ValueError("set callable or webhook_url_env, not both")
        if not self.dry_run and self.callable is None and self.webhook_url_env is None:
            raise ValueError("set callable (module:function) or webhook_url_env, or dry_run: true")
        return self


class PerformanceAlertsConfig(Strict):
    """When a window's performance alone alerts: ``thresholds`` maps a metric (accuracy, f1,
    roc_auc, ..., rmse, mae, latency_p95, estimated_accuracy, ...) to ``{severity: bound}``
    (alert below the bound, or above it for errors and latency); ``baseline_margin`` alerts
    when accuracy (RMSE) is worse than the baseline's by more than the bound."""

    thresholds: dict[str, dict[str, Number]] = Field(default_factory=dict)
    baseline_margin: dict[str, Number] = Field(default_factory=dict)
    min_labelled_rows: Count = 100
    cooldown_hours: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] = 6

    def check(self, task: str | None, probabilities: bool = False) -> None:
        """Refuse metrics the task has not (multiclass ROC AUC and log loss need the class
        probabilities) and bounds that cannot work, naming the field."""
        valid = rule_metrics(task, probabilities)
        for metric, levels in self.thresholds.items():
            where = f"performance_alerts.thresholds.{metric}"
            if metric not in valid:
                raise ValueError(
                    f"{where}: unknown performance metric for task {task or 'none (no labels)'} "
                    f"(valid: {', '.join(valid)})"
                )
            check_rule(where, metric, levels)
        if self.baseline_margin:
            check_rule("performance_alerts.baseline_margin", BASELINE_MARGIN, self.baseline_margin)

    def rules(self) -> PerformanceRules:
        return PerformanceRules(
            self.thresholds,
            self.baseline_margin,
            self.min_labelled_rows,
            timedelta(hours=self.cooldown_hours),
        )


class ReferenceConfig(Strict):
    path: Path


class ValidationConfig(Strict):
    """A labelled validation set held out from training (Parquet or CSV, the log's column
    names: prediction, score and label): the baseline performance each window is compared
    with, fitted with ``baseline_statistics``."""

    path: Path


def _metric(name: str) -> str:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r} (valid: {', '.join(METRICS)})")
    return name


Metric = Annotated[str, AfterValidator(_metric)]


class MultivariateConfig(Strict):
    """Multivariate drift by data reconstruction (``stats.multivariate``) over the features."""

    enabled: Annotated[bool, Field(strict=True)] = True
    variance: Annotated[float, Field(strict=True, gt=0, lt=1)] = DEFAULT_VARIANCE
    chunks: Annotated[int, Field(strict=True, ge=2)] = DEFAULT_CHUNKS


REFERENCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class DriftReference(Strict):
    """One reference drift is measured against (``stats.references``); a bare kind is short
    for ``{kind: ...}``. ``name`` (stored in ``drift_scores.reference``) defaults to the kind."""

    kind: Literal[REFERENCE_KINDS]
    name: str | None = None
    start: Annotated[datetime, AfterValidator(_aware)] | None = None
    end: Annotated[datetime, AfterValidator(_aware)] | None = None
    columns: Annotated[list[str], Field(min_length=1)] | None = None
    metrics: Annotated[list[Metric], Field(min_length=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_kind(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _usable(self) -> DriftReference:
        if self.name is not None and not REFERENCE_NAME.match(self.name):
            raise ValueError(
                f"name {self.name!r} must match [a-z][a-z0-9_]* (at most 32 characters)"
            )
        if self.name == TRAINING and self.kind != TRAINING:
            raise ValueError("name 'training' is the training baseline's: choose another name")
        fixed = self.kind == FIXED_WINDOW
        for key in ("start", "end"):
            moment = getattr(self, key)
            if fixed and moment is None:
                raise ValueError(f"{key}: kind window needs start and end")
            if not fixed and moment is not None:
                raise ValueError(f"{key}: only a reference of kind window has a {key}")
            if moment is not None and moment != moment.replace(minute=0, second=0, microsecond=0):
                raise ValueError(f"{key}: {moment.isoformat()} is not on the hour")
        if fixed and self.end <= self.start:
            raise ValueError(f"end: {self.end.isoformat()} is not after start")
        if self.kind == TRAINING and (self.columns is not None or self.metrics is not None):
            raise ValueError("training is scored on every column and metric: drop columns/metrics")
        return self

    def spec(self) -> Reference:
        """The pure reference ``stats`` scores with."""
        return Reference(
            name=self.name or self.kind,
            kind=self.kind,
            start=self.start,
            end=self.end,
            columns=None if self.columns is None else frozenset(self.columns),
            metrics=None if self.metrics is None else frozenset(self.metrics),
        )


class DriftConfig(Strict):
    """How a deployment's windows are scored (every key optional; defaults in stats/scoring.py)."""

    default_metrics: dict[Literal["numerical", "categorical", "prediction"], list[Metric]] = Field(
        default_factory=dict
    )
    metrics: dict[str, list[Metric]] = Field(default_factory=dict)
    thresholds: dict[Metric, Number] = Field(default_factory=dict)
    column_thresholds: dict[str, dict[Metric, Number]] = Field(default_factory=dict)
    params: dict[Metric, dict[str, Number]] = Field(default_factory=dict)
    min_rows: Count | None = None
    correction: Literal[CORRECTIONS] = DEFAULT_CORRECTION
    granularities: Annotated[list[Literal[GRANULARITIES]], Field(min_length=1)] = list(
        GRANULARITIES
    )
    low_confidence_threshold: Annotated[float, Field(strict=True, gt=0, lt=1)] = (
        DEFAULT_LOW_CONFIDENCE
    )
    multivariate: MultivariateConfig = MultivariateConfig()
    references: Annotated[list[DriftReference], Field(min_length=1)] = [
        DriftReference(kind=TRAINING)
    ]

    @field_validator("references")
    @classmethod
    def _unique_references(cls, references: list[DriftReference]) -> list[DriftReference]:
        _reject_duplicates("reference names", [r.name or r.kind for r in references])
        return references

    @property
    def production_references(self) -> list[Reference]:
        """The references made of stored hours (training is always scored)."""
        return [r.spec() for r in self.references if r.kind != TRAINING]

    @model_validator(mode="after")
    def _thresholds_can_work(self) -> DriftConfig:
        for metric, value in self.thresholds.items():
            _threshold(f"thresholds.{metric}", metric, value)
        for column, thresholds in self.column_thresholds.items():
            for metric, value in thresholds.items():
                _threshold(f"column_thresholds.{column}.{metric}", metric, value)
        return self


def _threshold(field: str, metric: str, value: float, statistic: str | None = None) -> None:
    """Refuse a threshold ``metric`` can never use, naming the ``field`` it came from."""
    try:
        check_threshold(metric, value, statistic)
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None


class AlertsConfig(BaseModel):
    """The types of a deployment's ``alerts:`` block; its keys are checked by AlertSettings."""

    model_config = ConfigDict(extra="allow", frozen=True)

    slack_channel: Annotated[str, Field(strict=True, min_length=1)] | None = None
    severity_channels: dict[Severity, Annotated[str, Field(strict=True, min_length=1)]] = {}
    severity_by_status: dict[str, Severity] = {}
    default_severity: Severity = "warning"
    min_severity: Severity = "warning"
    metrics: list[Metric] | None = None
    columns: list[str] | None = None
    references: list[str] | None = None
    cooldown_minutes: Minutes = 360
    no_data_cooldown_minutes: Minutes = 360
    notify_resolved: Annotated[bool, Field(strict=True)] = True
    thresholds: dict[Metric, dict[str, Any]] = {}
    column_thresholds: dict[str, dict[Metric, dict[str, Any]]] = {}

    @model_validator(mode="after")
    def _rules_can_work(self) -> AlertsConfig:
        for metric, levels in self.thresholds.items():
            _alert_rule(f"thresholds.{metric}", metric, levels)
        for column, rules in self.column_thresholds.items():
            for metric, levels in rules.items():
                _alert_rule(f"column_thresholds.{column}.{metric}", metric, levels)
        return self


def _alert_rule(field: str, metric: str, levels: dict[str, Any]) -> None:
    """``{severity: threshold}`` on the value, or ``{p_value: {severity: threshold}}``."""
    statistic = "value"
    if "p_value" in levels:
        if len(levels) > 1:
            raise ValueError(f"{field}: p_value cannot be mixed with value thresholds")
        levels, statistic, field = levels["p_value"], "p_value", f"{field}.p_value"
    if not isinstance(levels, dict) or not levels:
        raise ValueError(f"{field}: expected {{severity: threshold}}, got {levels!r}")
    for severity, value in levels.items():
        if severity not in SEVERITIES:
            raise ValueError(
                f"{field}.{severity}: unknown severity (choose one of {', '.join(SEVERITIES)})"
            )
        _threshold(f"{field}.{severity}", metric, value, statistic)


def _alerts(block: dict[str, Any]) -> dict[str, Any]:
    """The block itself once its types, thresholds and keys are known to work."""
    try:
        AlertsConfig.model_validate(block)
    except ValidationError as error:
        raise ValueError(_problems(error)) from None
    AlertSettings.from_mapping(block)
    return block


class BackfillConfig(Strict):
    """How a range of hours runs: one run (``single_run``) or runs of ``chunk_hours``
    (``multi_run``), each run's hours profiled by ``processes`` worker processes."""

    policy: Literal["single_run", "multi_run"] = "single_run"
    chunk_hours: Count = 168
    processes: Count = 1


class FreshnessConfig(Strict):
    """When an hour is too quiet (``stats.freshness``): below ``min_fraction`` of the median
    rows of the same hour of day over ``history_days`` (at least ``min_same_hour`` of them)."""

    min_fraction: Annotated[float, Field(strict=True, gt=0, lt=1, allow_inf_nan=False)] = (
        MIN_FRACTION
    )
    history_days: Annotated[int, Field(strict=True, ge=1, le=90)] = HISTORY_DAYS
    min_same_hour: Annotated[int, Field(strict=True, ge=1, le=90)] = MIN_SAME_HOUR

    @model_validator(mode="after")
    def _enough_days(self) -> FreshnessConfig:
        if self.min_same_hour > self.history_days:
            raise ValueError(
                f"min_same_hour ({self.min_same_hour}) cannot exceed history_days "
                f"({self.history_days}): there is one same hour of day per day"
            )
        return self

    def policy(self) -> FreshnessPolicy:
        return FreshnessPolicy(self.min_fraction, self.history_days, self.min_same_hour)


class SegmentConfig(Strict):
    """One segment key: a column, a combination of columns, or a column with a value mapping
    (``values``: raw value → segment value; unmapped values go to ``__other__``). At most
    ``max_values`` segment values are kept per window (the rest fold into ``__other__``,
    counted); a segment with fewer than ``min_rows`` rows is ``insufficient_data``.
    ``baseline: segment`` compares a segment with the reference rows of that segment
    (a segment absent from the reference falls back to the whole reference and is reported
    as new); ``baseline: population`` compares every segment with the whole reference."""

    columns: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    values: dict[str, Annotated[str, Field(min_length=1)]] | None = None
    max_values: Count = DEFAULT_MAX_VALUES
    min_rows: Count | None = None
    baseline: Literal["segment", "population"] = "segment"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``region`` and ``[region, channel]`` are keys too; ``column:`` names one column."""
        if isinstance(data, str):
            return {"columns": [data]}
        if isinstance(data, list):
            return {"columns": data}
        if isinstance(data, dict) and "column" in data:
            if "columns" in data:
                raise ValueError("set column or columns, not both")
            data = {**data, "columns": [data["column"]]}
            del data["column"]
        return data

    @model_validator(mode="after")
    def _well_formed(self) -> SegmentConfig:
        _reject_duplicates("columns", self.columns)
        for column in self.columns:
            if any(ch in column for ch in "=,"):
                raise ValueError(f"column {column!r}: a segment column name cannot hold = or ,")
        if self.values is not None:
            if len(self.columns) > 1:
                raise ValueError("values (a value mapping) is for a single column only")
            reserved = sorted(set(self.values.values()) & set(RESERVED))
            if reserved:
                raise ValueError(f"values maps to reserved segment value(s) {reserved}")
        return self

    def key(self) -> SegmentKey:
        """The key as the statistics core sees it."""
        return SegmentKey(
            columns=tuple(self.columns),
            values=self.values,
            max_values=self.max_values,
            min_rows=self.min_rows,
            baseline=self.baseline,
        )


class Defaults(Strict):
    n_bins: Count = DEFAULT_BINS
    max_categories: Count = 100
    chunk_rows: Count = 100_000
    min_rows: Count = DEFAULT_MIN_ROWS
    lag_minutes: Annotated[int, Field(strict=True, ge=0, le=59)] = 15
    quality_checks: bool = True
    backfill: BackfillConfig = BackfillConfig()
    freshness: FreshnessConfig = FreshnessConfig()


StartFrom = Literal["config", "logs", "reference", "load"]
START_ORIGINS: dict[StartFrom, str] = {
    "config": "its start",
    "logs": "the first hour of its logs",
    "reference": "the hour its reference was written",
    "load": "no data yet",
}


class DeploymentConfig(Strict):
    """One deployed model: its training data, its logs, the columns to watch."""

    id: Annotated[str, AfterValidator(_deployment_id)]
    description: str = ""
    reference: ReferenceConfig
    validation: ValidationConfig | None = None
    logs: Annotated[ParquetLogs | SqlLogs | KafkaLogs, Field(discriminator="type")]
    columns: Annotated[list[ColumnConfig], Field(min_length=1)]
    start: Annotated[datetime, AfterValidator(_aware)] | None = None
    n_bins: Count | None = None
    max_categories: Count | None = None
    drift: DriftConfig = DriftConfig()
    alerts: Annotated[dict[str, Any], AfterValidator(_alerts)] = Field(default_factory=dict)
    labels: Annotated[ParquetLabels | SqlLabels, Field(discriminator="type")] | None = None
    retraining: RetrainingConfig | None = None
    freshness: FreshnessConfig | None = None
    performance_alerts: PerformanceAlertsConfig | None = None
    segments: list[SegmentConfig] = Field(default_factory=list)
    _start_from: StartFrom = PrivateAttr("config")

    @property
    def start_from(self) -> StartFrom:
        """Where ``start`` came from: the file (``config``), or, left out there, the first hour
        of the Parquet logs (``logs``), the hour the reference was written (``reference``) or
        the hour the file was loaded (``load``: no data yet)."""
        return self._start_from

    @field_validator("columns")
    @classmethod
    def _unique_columns(cls, columns: list[ColumnConfig]) -> list[ColumnConfig]:
        _reject_duplicates("column names", [c.name for c in columns])
        if any(c.name == MULTIVARIATE for c in columns):
            raise ValueError(f"column name {MULTIVARIATE!r} is reserved (the multivariate score)")
        if not any(c.role in MONITORED_ROLES for c in columns):
            raise ValueError("no column with role feature, prediction or confidence to monitor")
        return columns

    @model_validator(mode="after")
    def _drift_columns_exist(self) -> DeploymentConfig:
        monitored = self.monitored
        named = {
            **{
                f"drift.references[{i}].columns": r.columns
                for i, r in enumerate(self.drift.references)
                if r.columns
            },
            "drift.metrics": self.drift.metrics,
            "drift.column_thresholds": self.drift.column_thresholds,
            "alerts.columns": self.alerts.get("columns") or [],
            "alerts.column_thresholds": self.alerts.get("column_thresholds") or {},
        }
        for field_name, columns in named.items():
            unknown = sorted(set(columns) - set(monitored))
            if unknown:
                raise ValueError(
                    f"{field_name} names column(s) {unknown} that are not monitored "
                    f"(monitored: {', '.join(monitored)})"
                )
        return self

    @model_validator(mode="after")
    def _segment_columns_exist(self) -> DeploymentConfig:
        roles = {c.name: c.role for c in self.columns}
        names = []
        for index, segment in enumerate(self.segments):
            for column in segment.columns:
                if column not in roles:
                    raise ValueError(
                        f"segments[{index}] names column {column!r}, which is not in columns "
                        f"(declare it, with role segment if it is not monitored)"
                    )
                if roles[column] in (Role.TIMESTAMP, Role.REQUEST_ID, Role.LATENCY):
                    raise ValueError(
                        f"segments[{index}]: column {column!r} has role {roles[column].value}, "
                        "which cannot slice traffic"
                    )
            names.append(",".join(segment.columns))
        try:
            _reject_duplicates("segment keys", names)
        except ValueError as error:
            raise ValueError(f"segments: {error}") from None
        return self

    @model_validator(mode="after")
    def _alerted_references_exist(self) -> DeploymentConfig:
        scored = [r.name or r.kind for r in self.drift.references]
        scored += [] if TRAINING in scored else [TRAINING]
        unknown = sorted(set(self.alerts.get("references") or []) - set(scored))
        if unknown:
            raise ValueError(
                f"alerts.references names reference(s) {unknown} that drift.references does "
                f"not score (scored: {', '.join(scored)})"
            )
        return self

    @model_validator(mode="after")
    def _labels_columns(self) -> DeploymentConfig:
        if self.labels is None:
            return self
        for role in (Role.REQUEST_ID, Role.PREDICTION, Role.LABEL):
            if self.column_with_role(role) is None:
                raise ValueError(f"labels need a column with role {role.value} in columns")
        label = self.column_with_role(Role.LABEL)
        wanted = Kind.NUMERICAL if self.labels.task == "regression" else Kind.CATEGORICAL
        if label.type is not wanted:
            raise ValueError(
                f"label column {label.name!r} has type {label.type.value}, "
                f"but task {self.labels.task} needs {wanted.value}"
            )
        roles = {c.name: c.role for c in self.columns}
        reserved = (Role.REQUEST_ID, Role.TIMESTAMP, Role.PREDICTION, Role.LABEL, Role.LATENCY)
        for name, column in (self.labels.probabilities or {}).items():
            if roles.get(column) in reserved:
                raise ValueError(
                    f"labels.probabilities.{name}: column {column!r} is the "
                    f"{roles[column].value} column, not a probability"
                )
        return self

    @model_validator(mode="after")
    def _validation_needs_labels(self) -> DeploymentConfig:
        if self.validation is not None and self.labels is None:
            raise ValueError("validation needs a labels block (the task and positive class)")
        margin = self.retraining.baseline_margin if self.retraining else None
        if margin is not None and self.validation is None:
            raise ValueError(
                "retraining.baseline_margin needs a validation block (the baseline performance)"
            )
        if margin is not None and self.labels.task != "regression" and margin >= 1:
            raise ValueError(f"retraining.baseline_margin {margin} on accuracy must be below 1")
        floor = self.retraining.estimated_accuracy_floor if self.retraining else None
        if floor is not None and (self.validation is None or self.labels.task != "binary"):
            raise ValueError(
                "retraining.estimated_accuracy_floor needs a binary task and a validation block "
                "(CBPE is calibrated on it)"
            )
        if self.performance_alerts is not None:
            self.performance_alerts.check(
                self.labels.task if self.labels else None,
                bool(self.labels and self.labels.probabilities),
            )
            if self.performance_alerts.baseline_margin and self.validation is None:
                raise ValueError(
                    "performance_alerts.baseline_margin needs a validation block "
                    "(the baseline performance)"
                )
        return self

    @property
    def monitored(self) -> dict[str, Kind]:
        """Columns profiled every hour, with their kinds."""
        return {c.name: c.type for c in self.columns if c.role in MONITORED_ROLES}

    @property
    def features(self) -> dict[str, Kind]:
        """The model's input columns, with their kinds (what multivariate drift looks at)."""
        return {c.name: c.type for c in self.columns if c.role is Role.FEATURE}

    @property
    def response_columns(self) -> set[str]:
        return {c.name for c in self.columns if c.role in RESPONSE_ROLES}

    @property
    def segment_keys(self) -> list[SegmentKey]:
        """The deployment's segment keys, in file order (the population is not one)."""
        return [segment.key() for segment in self.segments]

    def column_with_role(self, role: Role) -> ColumnConfig | None:
        return next((c for c in self.columns if c.role is role), None)


class MonitorsConfig(Strict):
    """The whole file: defaults and deployments."""

    defaults: Defaults = Defaults()
    deployments: Annotated[list[DeploymentConfig], Field(min_length=1)]

    @field_validator("deployments")
    @classmethod
    def _unique_ids(cls, deployments: list[DeploymentConfig]) -> list[DeploymentConfig]:
        _reject_duplicates("deployment ids", [d.id for d in deployments])
        return deployments

    def deployment(self, deployment_id: str) -> DeploymentConfig:
        for deployment in self.deployments:
            if deployment.id == deployment_id:
                return deployment
        known = ", ".join(d.id for d in self.deployments)
        raise KeyError(f"unknown deployment {deployment_id!r} (configured: {known})")

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.deployments]

    @property
    def start(self) -> datetime:
        """Where the hourly partitions begin: the earliest deployment start."""
        return min(d.start for d in self.deployments)

    def freshness_policy(self, deployment: DeploymentConfig) -> FreshnessPolicy:
        """The deployment's ``freshness`` block, else the defaults' (each block is whole)."""
        return self.setting(deployment, "freshness").policy()

    def setting(self, deployment: DeploymentConfig, name: str) -> Any:
        """A per-deployment setting, falling back to the file's defaults."""
        value = getattr(deployment, name, None)
        return getattr(self.defaults, name) if value is None else value


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(path: Path, base: Path) -> Path:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "DAGSTER_HOME":
            return str(dagster_home())
        if name not in os.environ:
            raise ConfigError(f"path {str(path)!r} uses ${{{name}}}, which is not set")
        return os.environ[name]

    expanded = Path(_VAR.sub(substitute, str(path)))
    return expanded if expanded.is_absolute() else (base / expanded).resolve()


def config_path() -> Path:
    """``$MONITORS_CONFIG`` or ``monitors.yaml`` in the working directory."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()


def _location(loc: tuple) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in {"parquet", "sql", "kafka"} or part.startswith("function-"):
            continue
        elif part == "[key]":
            text += " (the key)"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _problems(error: ValidationError) -> str:
    """Each error as ``field: what is wrong``, without pydantic's "Value error, " prefix."""
    problems = []
    for e in error.errors():
        message = e["msg"].removeprefix("Value error, ")
        problems.append(f"{_location(e['loc'])}: {message}" if e["loc"] else message)
    return "; ".join(problems)


def parse_config(
    data: Any, source: str = "monitors.yaml", base: Path | None = None
) -> MonitorsConfig:
    """Validate already-loaded YAML data; paths are resolved against ``base``."""
    try:
        config = MonitorsConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {_problems(error)}") from None
    base = base or Path.cwd()
    deployments = [
        d.model_copy(
            update={
                "reference": d.reference.model_copy(
                    update={"path": _expand(d.reference.path, base)}
                ),
                "logs": d.logs.model_copy(update={"path": _expand(d.logs.path, base)})
                if isinstance(d.logs, ParquetLogs)
                else d.logs,
                "labels": d.labels.model_copy(update={"path": _expand(d.labels.path, base)})
                if isinstance(d.labels, ParquetLabels)
                else d.labels,
                "validation": d.validation.model_copy(
                    update={"path": _expand(d.validation.path, base)}
                )
                if d.validation
                else None,
            }
        )
        for d in config.deployments
    ]
    return config.model_copy(update={"deployments": [_with_start(d) for d in deployments]})


def _hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def data_start(deployment: DeploymentConfig) -> tuple[datetime, StartFrom]:
    """Where a deployment without ``start`` begins, so its partitions start with its data:
    the first hour folder of its Parquet logs; else (SQL or Kafka logs, which are not read
    while the code location loads, or no logs yet) the hour its reference file was written;
    else the current hour."""
    if isinstance(deployment.logs, ParquetLogs):
        hour = first_hour(deployment.logs.path)
        if hour is not None:
            return hour, "logs"
    reference = deployment.reference.path
    if reference.is_file():
        return _hour_of(datetime.fromtimestamp(reference.stat().st_mtime, UTC)), "reference"
    return _hour_of(datetime.now(UTC)), "load"


def _with_start(deployment: DeploymentConfig) -> DeploymentConfig:
    if deployment.start is not None:
        return deployment
    start, source = data_start(deployment)
    resolved = deployment.model_copy(update={"start": start})
    resolved._start_from = source
    return resolved


def load_config(path: Path | str | None = None) -> MonitorsConfig:
    """Read and validate ``monitors.yaml`` (default: :func:`config_path`)."""
    path = Path(path).resolve() if path else config_path()
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (set {CONFIG_ENV} to point at monitors.yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_config(data, source=str(path), base=path.parent)
