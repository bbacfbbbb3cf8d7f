"""The notebook API: profile a reference once, snapshot production data, compare.

    monitor = Monitor.from_reference(train_df, columns=["age", "income", "purpose"])
    snapshot = monitor.snapshot(todays_df)          # mergeable: snapshot.merge(other)
    result = monitor.compare(snapshot)
    result.summary()                                # a pandas DataFrame, column × metric
    result.drifted                                  # the drifted columns
    result                                          # in Jupyter: the HTML drift report
    result.save_html("drift.html")

The same statistics code as the pipeline (``stats.dataset`` profiles, ``stats.scoring``
metrics, ``stats.calibration`` noise thresholds) and the same report module; no Dagster and
no database. ``Monitor.from_deployment`` takes a deployment's settings from monitors.yaml,
so ``compare`` gives the scores the pipeline stores for the same rows.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring_pipelines.report.html import render_html
from monitoring_pipelines.report.model import DriftReport
from monitoring_pipelines.stats.binning import DEFAULT_BINS
from monitoring_pipelines.stats.calibration import Calibration, calibrate
from monitoring_pipelines.stats.dataset import (
    MULTIVARIATE,
    DatasetProfile,
    fit_baseline,
    profile_chunks,
)
from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.stats.model_signals import DEFAULT_LOW_CONFIDENCE, model_signals
from monitoring_pipelines.stats.multivariate import (
    METRIC,
    MultivariateUnavailable,
    ReconstructionModel,
    fit_reconstruction,
    with_multivariate,
)
from monitoring_pipelines.stats.profile import DEFAULT_MAX_CATEGORIES, Kind
from monitoring_pipelines.stats.scoring import (
    DEFAULT_CORRECTION,
    DEFAULT_MIN_ROWS,
    ScoringSettings,
    default_metrics,
    drifted_columns,
    score_window,
)
from monitoring_pipelines.store.aggregates import column_profile, profile_rows, reference_values

SNAPSHOT_FORMAT = "monitoring_pipelines.snapshot/1"
SUMMARY_COLUMNS = ("column", "metric", "value", "p_value", "threshold", "status", "drifted",
                   "reference_size", "current_size")  # fmt: skip


def infer_kinds(frame: pd.DataFrame, columns: Sequence[str] | Mapping[str, str] | None) -> dict:
    """Column → kind: as given, else numerical for numbers (not booleans), else categorical."""
    if isinstance(columns, Mapping):
        chosen = dict(columns)
    else:
        names = list(frame.columns) if columns is None else list(columns)
        chosen = {
            name: Kind.NUMERICAL
            if name in frame.columns
            and pd.api.types.is_numeric_dtype(frame[name])
            and not pd.api.types.is_bool_dtype(frame[name])
            else Kind.CATEGORICAL
            for name in names
        }
    absent = [name for name in chosen if name not in frame.columns]
    if absent:
        raise ValueError(
            f"columns {absent} are not in the reference data (it has {list(frame.columns)})"
        )
    return chosen


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The profile of some production rows on the monitor's bins and categories."""

    profile: DatasetProfile
    start: datetime | None = None
    end: datetime | None = None

    @property
    def rows(self) -> int:
        return self.profile.row_count

    def merge(self, other: Snapshot) -> Snapshot:
        """The snapshot of both sets of rows (exact: counts add, moments combine)."""
        starts = [s for s in (self.start, other.start) if s is not None]
        ends = [e for e in (self.end, other.end) if e is not None]
        return Snapshot(
            self.profile.merge(other.profile),
            min(starts) if starts else None,
            max(ends) if ends else None,
        )

    def save(self, path: Path | str) -> Path:
        """Write the snapshot as JSON (the ``aggregates`` row layout, one row per column)."""
        document = {
            "format": SNAPSHOT_FORMAT,
            "start": self.start and self.start.isoformat(),
            "end": self.end and self.end.isoformat(),
            "row_count": self.rows,
            "absent_columns": list(self.profile.absent_columns),
            "extra_columns": list(self.profile.extra_columns),
            "columns": profile_rows(self.profile),
        }
        path = Path(path)
        path.write_text(json.dumps(document), encoding="utf-8")
        return path


@dataclass(frozen=True, eq=False)
class Comparison:
    """A snapshot judged against the reference: the scores and the report that shows them."""

    report: DriftReport

    @property
    def scores(self) -> Mapping[str, Sequence[DriftResult]]:
        return self.report.scores

    @property
    def drifted(self) -> list[str]:
        return drifted_columns(self.report.scores)

    @property
    def status(self) -> str:
        """``drift``, ``stable`` or ``insufficient_data``."""
        return self.report.status

    def summary(self) -> pd.DataFrame:
        """One row per column × metric: value, p-value, threshold applied, status, drifted."""
        rows = [
            (
                column,
                r.metric,
                r.value,
                r.p_value,
                r.threshold,
                r.status,
                r.drifted,
                r.reference_size,
                r.current_size,
            )
            for column, results in self.report.scores.items()
            for r in results
        ]
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))

    def to_html(self) -> str:
        """The self-contained HTML drift report (the pipeline's report module)."""
        return render_html(self.report)

    def save_html(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        """The report in a sandboxed iframe: its scripts run apart from the notebook's page."""
        return (
            f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" '
            'sandbox="allow-scripts" style="width:100%;height:900px;border:0"></iframe>'
        )

    def __repr__(self) -> str:
        drifted = ", ".join(self.drifted) or "none"
        return (
            f"<Comparison {self.status}: {self.report.current.row_count} rows; drifted {drifted}>"
        )


@dataclass(frozen=True, eq=False)
class Monitor:
    """A reference profile and the settings every comparison is scored with."""

    baseline: DatasetProfile
    settings: ScoringSettings = field(default_factory=ScoringSettings)
    calibration: Calibration | None = None
    prediction: str | None = None
    confidence: str | None = None
    low_confidence_threshold: float = DEFAULT_LOW_CONFIDENCE
    title: str = "notebook"
    model: ReconstructionModel | None = None  # multivariate drift's, when the reference has one

    @classmethod
    def from_reference(
        cls,
        reference: pd.DataFrame,
        columns: Sequence[str] | Mapping[str, str] | None = None,
        *,
        metrics: Mapping[str, Sequence[str]] | None = None,
        thresholds: Mapping[str, float] | None = None,
        column_thresholds: Mapping[str, Mapping[str, float]] | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        min_rows: int = DEFAULT_MIN_ROWS,
        correction: str = DEFAULT_CORRECTION,
        prediction: str | None = None,
        confidence: str | None = None,
        n_bins: int = DEFAULT_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        calibrated: bool = True,
        title: str = "notebook",
    ) -> Monitor:
        """Profile ``reference`` (bin edges, categories, and with ``calibrated`` the noise
        thresholds of the distance metrics); ``columns`` are names (kinds inferred from the
        dtypes) or name → ``numerical``/``categorical``; the other keywords are the
        monitors.yaml ``drift`` settings of the same names."""
        kinds = infer_kinds(reference, columns)
        baseline = fit_baseline(reference, kinds, n_bins=n_bins, max_categories=max_categories)
        predictions = {prediction} if prediction else set()
        settings = ScoringSettings(
            metrics=dict(metrics or {}),
            prediction_columns=predictions,
            thresholds=dict(thresholds or {}),
            column_thresholds=dict(column_thresholds or {}),
            params=dict(params or {}),
            min_rows=min_rows,
            correction=correction,
        )
        scored = {
            name: tuple(settings.metrics.get(name) or default_metrics(kind, name in predictions))
            for name, kind in kinds.items()
        }
        calibration = calibrate(reference, baseline, scored, params=params) if calibrated else None
        features = {k: v for k, v in kinds.items() if k not in (prediction, confidence)}
        try:
            model, errors = fit_reconstruction(reference, features, n_bins=n_bins)
        except MultivariateUnavailable:
            model, errors = None, None
        baseline = DatasetProfile(baseline.row_count, baseline.columns, multivariate=errors)
        return cls(
            baseline, settings, calibration, prediction, confidence, title=title, model=model
        )

    @classmethod
    def from_deployment(
        cls, deployment_id: str, reference: pd.DataFrame | None = None, config=None
    ) -> Monitor:
        """A deployment's monitor as the pipeline builds it: its monitored columns, bins,
        metrics, thresholds and calibration (``reference``: default its configured file)."""
        from monitoring_pipelines.config import Role, load_config
        from monitoring_pipelines.pipeline.drift import score_settings, scored_metrics
        from monitoring_pipelines.pipeline.multivariate import fit_multivariate
        from monitoring_pipelines.sources.base import read_reference

        config = config or load_config()
        deployment = config.deployment(deployment_id)
        frame = read_reference(deployment.reference.path) if reference is None else reference
        baseline = fit_baseline(
            frame,
            deployment.monitored,
            n_bins=config.setting(deployment, "n_bins"),
            max_categories=config.setting(deployment, "max_categories"),
        )
        curves = calibrate(
            frame, baseline, scored_metrics(deployment), params=deployment.drift.params
        )
        n_bins = config.setting(deployment, "n_bins")
        baseline, model, _ = fit_multivariate(deployment, frame, baseline, n_bins)
        prediction = deployment.column_with_role(Role.PREDICTION)
        confidence = deployment.column_with_role(Role.CONFIDENCE)
        return cls(
            baseline,
            score_settings(config, deployment),
            curves,
            prediction and prediction.name,
            confidence and confidence.name,
            deployment.drift.low_confidence_threshold,
            deployment_id,
            model,
        )

    def snapshot(
        self, frame: pd.DataFrame, start: datetime | None = None, end: datetime | None = None
    ) -> Snapshot:
        """Profile production rows on the reference's bins and categories (and, with a
        reconstruction model, each row's reconstruction error)."""
        errors = self.model.errors if self.model is not None else None
        return Snapshot(profile_chunks([frame], self.baseline, errors=errors), start, end)

    def load_snapshot(self, path: Path | str) -> Snapshot:
        """A snapshot written by :meth:`Snapshot.save` (for this monitor's reference)."""
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{path}: not a snapshot (format {document.get('format')!r})")
        values = reference_values(self.baseline)
        columns = {
            row["column_name"]: column_profile(row, values.get(row["column_name"], ()))
            for row in document["columns"]
        }
        multivariate = columns.pop(MULTIVARIATE, None)
        if columns.keys() != self.baseline.columns.keys():
            raise ValueError(
                f"{path}: the snapshot's columns {sorted(columns)} are not the monitor's "
                f"{sorted(self.baseline.columns)}"
            )
        profile = DatasetProfile(
            document["row_count"],
            columns,
            tuple(document["absent_columns"]),
            tuple(document["extra_columns"]),
            multivariate,
        )
        moments = [document[k] and datetime.fromisoformat(document[k]) for k in ("start", "end")]
        return Snapshot(profile, *moments)

    def compare(self, snapshot: Snapshot | pd.DataFrame) -> Comparison:
        """Score a snapshot (or a DataFrame, snapshotted first) against the reference."""
        if isinstance(snapshot, pd.DataFrame):
            snapshot = self.snapshot(snapshot)
        current = snapshot.profile
        settings = ScoringSettings.of(self.settings)
        scores = score_window(self.baseline, current, settings, calibration=self.calibration)
        scores = with_multivariate(
            scores,
            self.model,
            self.baseline.multivariate,
            current.multivariate,
            threshold=settings.thresholds.get(METRIC),
            min_rows=settings.min_rows,
        )
        return Comparison(
            DriftReport(
                title=self.title,
                baseline=self.baseline,
                current=current,
                scores=scores,
                start=snapshot.start,
                end=snapshot.end,
                signals=self._signals(current),
            )
        )

    def _signals(self, current: DatasetProfile):
        """Prediction drift and confidence, when the monitor names those columns."""
        if self.prediction is None and self.confidence is None:
            return None

        def pick(profile: DatasetProfile, name: str | None):
            return profile.columns.get(name) if name is not None else None

        return model_signals(
            pick(self.baseline, self.prediction),
            pick(current, self.prediction),
            pick(self.baseline, self.confidence),
            pick(current, self.confidence),
            low_confidence_threshold=self.low_confidence_threshold,
        )
