"""Write a complete demo deployment: reference set with model outputs, hourly scoring logs
with daily seasonality and injected drift, and late-arriving ground-truth labels.

The production traffic is scored the way a user's model server would: the model wrapped with
``traffic.monitor``, called once per batch of requests, logging through a ``MonitoringLogger``
(to the Parquet layout, or any other sink), with a simulated clock for the calls' latency.
Layout under ``root``: ``reference.parquet`` (the training set), ``validation.parquet`` (held-out
applicants the model did not see, scored and labelled: the baseline performance),
``logs/date=YYYY-MM-DD/hour=HH/part-*.parquet`` (one file per hour), ``labels/labels.parquet``
and a ``demo.json`` manifest. Everything is drawn from seeded numpy Generators (the
validation set from its own, so it leaves the other draws unchanged).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from monitoring_pipelines.config import Role
from monitoring_pipelines.demo.applicants import (
    CATEGORICAL,
    DRIFTED_COLUMNS,
    FEATURES,
    decorrelate,
    inject_drift,
    inject_regional_drift,
    sample_applicants,
    sample_defaults,
)
from monitoring_pipelines.demo.model import model_input, score, train_model
from monitoring_pipelines.stats.profile import Kind
from monitoring_pipelines.traffic import MonitoringLogger, ParquetSink, Schema, Sink, monitor

HOUR = timedelta(hours=1)
SEASONALITY = 0.6  # traffic peaks at 1.6x the mean at 15:00 UTC and dips to 0.4x at 03:00
PEAK_HOUR = 15
LABELLED_SHARE = 0.6  # requests whose outcome is ever known
LABEL_DELAY_MEDIAN_HOURS = 5.0  # after the first hour: ~86 % within a day, ~3 % after 3 days
LABEL_DELAY_SIGMA = 1.3
MIN_REFERENCE_ROWS = 200
VALIDATION_ROWS = 5000
MANIFEST = "demo.json"
DEPLOYMENT = "credit_risk"
MEAN_BATCH_ROWS = 250  # requests the simulated server scores per model call, on average
SLOW_CALLS = 0.02  # share of model calls that take 8-25x the usual ~35 ms


@dataclass(frozen=True)
class DemoColumn:
    """One column of the demo data: its name, role, and kind (None for ids and timestamps)."""

    name: str
    role: Role
    kind: Kind | None


COLUMNS = (
    DemoColumn("request_id", Role.REQUEST_ID, None),
    DemoColumn("scored_at", Role.TIMESTAMP, None),
    *(
        DemoColumn(name, Role.FEATURE, Kind.CATEGORICAL if name in CATEGORICAL else Kind.NUMERICAL)
        for name in FEATURES
    ),
    DemoColumn("predicted_class", Role.PREDICTION, Kind.CATEGORICAL),
    DemoColumn("confidence", Role.CONFIDENCE, Kind.NUMERICAL),
    DemoColumn("score", Role.SCORE, Kind.NUMERICAL),
    DemoColumn("latency_ms", Role.LATENCY, Kind.NUMERICAL),
    DemoColumn("defaulted", Role.LABEL, Kind.CATEGORICAL),
)


@dataclass(frozen=True)
class DemoData:
    """Where the demo deployment was written and what its columns mean."""

    root: Path
    reference_path: Path
    logs_path: Path
    labels_path: Path
    validation_path: Path
    start: datetime
    end: datetime
    drift_from_hour: int
    drift_start: datetime | None
    drifted_columns: tuple[str, ...]
    rows_per_hour: tuple[int, ...]
    reference_rows: int
    labelled_rows: int
    decorrelated_hours: tuple[int, ...] = ()
    regional_hours: tuple[int, ...] = ()  # hours whose northeast income alone drifted
    columns: tuple[DemoColumn, ...] = COLUMNS
    timestamp_column: str = "scored_at"
    request_id_column: str = "request_id"
    label_column: str = "defaulted"

    def names(self, *roles: Role) -> list[str]:
        """Column names with any of the given roles, in file order."""
        return [c.name for c in self.columns if c.role in roles]

    def kinds(self, *roles: Role) -> dict[str, Kind]:
        """``{name: kind}`` of the columns with the given roles (all profiled columns if none)."""
        return {
            c.name: c.kind
            for c in self.columns
            if c.kind is not None and (not roles or c.role in roles)
        }


def generate_demo(
    root: Path,
    end: datetime,
    hours: int = 72,
    drift_from_hour: int = 48,
    rows_per_hour: int = 2000,
    reference_rows: int = 20_000,
    seed: int = 0,
    sink: Sink | None = None,
    regional_hours: tuple[int, ...] = (),
) -> DemoData:
    """Write the demo deployment for the ``hours`` hours before ``end`` (an hour boundary, UTC).

    Hours with index ``>= drift_from_hour`` (0 is the oldest) are drifted (features shift,
    and so does the relationship between features and outcome: concept drift), so
    ``drift_from_hour >= hours`` means no drift. In up to three clean hours from halfway to
    the drift (:func:`decorrelated_hours`), loan_amount is shuffled within the hour: a change
    in how two columns move together that leaves every column's distribution as it was.
    A previous demo under ``root`` (recognised by its ``demo.json`` manifest) is replaced;
    any other existing output is left alone. The scoring logs go to ``sink`` (default: the
    Parquet layout under ``root/logs``). In the ``regional_hours``, the northeast's income
    alone rises by 20 % (``applicants.inject_regional_drift``): a drift of the segment
    ``region=northeast`` that the population's numbers hide.
    """
    _check_arguments(end, hours, drift_from_hour, rows_per_hour, reference_rows)
    root = Path(root)
    paths = root / "reference.parquet", root / "logs", root / "labels" / "labels.parquet"
    validation_path = root / "validation.parquet"
    _clear(root, (*paths, validation_path, root / "retrained"))
    rng = np.random.default_rng(seed)

    reference = sample_applicants(rng, reference_rows)
    reference["defaulted"] = sample_defaults(rng, reference)
    model = train_model(reference, reference["defaulted"].to_numpy(), seed)
    reference = pd.concat([reference, score(model, reference)], axis=1)
    _write(reference, paths[0])
    _write(validation_set(model, np.random.default_rng([seed, 1])), validation_path)

    end = end.astimezone(UTC)
    start = end - hours * HOUR
    counts = hourly_counts(rng, start, hours, rows_per_hour)
    hour_index = np.repeat(np.arange(hours), counts)
    shuffled = decorrelated_hours(hours, drift_from_hour)
    logs, outcomes = _production(
        rng,
        start,
        hour_index,
        hour_index >= drift_from_hour,
        shuffled,
        seed,
        np.isin(hour_index, regional_hours),
    )
    _serve(rng, model, logs, hour_index, sink or ParquetSink(paths[1]))

    labels = _labels(rng, logs, outcomes, end)
    _write(labels, paths[2])
    demo = DemoData(
        root=root,
        reference_path=paths[0],
        logs_path=paths[1],
        labels_path=paths[2],
        validation_path=validation_path,
        start=start,
        end=end,
        drift_from_hour=drift_from_hour,
        drift_start=start + drift_from_hour * HOUR if drift_from_hour < hours else None,
        drifted_columns=DRIFTED_COLUMNS if drift_from_hour < hours else (),
        rows_per_hour=tuple(int(c) for c in counts),
        reference_rows=reference_rows,
        labelled_rows=len(labels),
        decorrelated_hours=shuffled,
        regional_hours=tuple(regional_hours),
    )
    (root / MANIFEST).write_text(json.dumps(_manifest(demo), indent=2) + "\n")
    return demo


def decorrelated_hours(hours: int, drift_from_hour: int) -> tuple[int, ...]:
    """The clean hours whose loan_amount is shuffled: three from halfway to the drift on
    (hours 24–26 of the default 72 with drift from 48), never a drifted or missing hour."""
    first = min(drift_from_hour, hours) // 2
    return tuple(range(first, min(first + 3, drift_from_hour, hours)))


def regional_hours(start: datetime, hours: int, drift_from_hour: int) -> tuple[int, ...]:
    """The clean hour whose northeast income alone drifts in ``monitoring-pipelines demo``:
    the busiest hour before the decorrelated ones (15:00 UTC when they start a day or more in,
    as in the default 72 hours), so the region has the most rows of any candidate; none when
    no hour precedes them."""
    shuffled = decorrelated_hours(hours, drift_from_hour)
    before = shuffled[0] if shuffled else min(drift_from_hour, hours)
    if before < 1:
        return ()
    weight = traffic_weight((start.astimezone(UTC).hour + np.arange(before)) % 24)
    return (int(np.argmax(weight)),)


def validation_set(
    model: HistGradientBoostingClassifier, rng: np.random.Generator, rows: int = VALIDATION_ROWS
) -> pd.DataFrame:
    """Held-out applicants from the training distribution, scored by ``model``, with their
    outcomes: what the model's performance should be on clean traffic."""
    applicants = sample_applicants(rng, rows)
    applicants["defaulted"] = sample_defaults(rng, applicants)
    return pd.concat([applicants, score(model, applicants)], axis=1)


def traffic_weight(hour_of_day: np.ndarray) -> np.ndarray:
    """Relative traffic by UTC hour of day; averages exactly 1 over a day."""
    return 1.0 + SEASONALITY * np.cos(2 * np.pi * (np.asarray(hour_of_day) - PEAK_HOUR) / 24)


def hourly_counts(
    rng: np.random.Generator, start: datetime, hours: int, rows_per_hour: int
) -> np.ndarray:
    """Poisson row counts per hour around ``rows_per_hour`` times the daily traffic weight."""
    hour_of_day = (start.hour + np.arange(hours)) % 24
    return rng.poisson(rows_per_hour * traffic_weight(hour_of_day))


def _production(
    rng: np.random.Generator,
    start: datetime,
    hour_index: np.ndarray,
    drifted: np.ndarray,
    shuffled: tuple[int, ...] = (),
    seed: int = 0,
    regional: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The requests (id, time, features; sorted by time) and each one's true outcome; the
    ``shuffled`` hours decorrelated with a stream of their own (the other draws are unchanged)."""
    n = hour_index.size
    features = inject_drift(rng, sample_applicants(rng, n), drifted)
    if regional is not None and regional.any():
        features = inject_regional_drift(features, regional)
    shuffler = np.random.default_rng([seed, 2])
    for hour in shuffled:
        features = decorrelate(shuffler, features, hour_index == hour)
    outcomes = sample_defaults(rng, features, concept_drift=drifted)
    offsets = np.sort(hour_index * 3_600_000_000 + rng.integers(0, 3_600_000_000, n))
    ids = rng.bytes(16 * n)
    requests = pd.DataFrame(
        {
            "request_id": [
                str(uuid.UUID(bytes=ids[16 * i : 16 * i + 16], version=4)) for i in range(n)
            ],
            "scored_at": pd.Timestamp(start) + pd.to_timedelta(offsets, unit="us"),
        }
    ).astype({"request_id": "str"})
    return pd.concat([requests, features], axis=1), outcomes


def _serve(
    rng: np.random.Generator,
    model: HistGradientBoostingClassifier,
    requests: pd.DataFrame,
    hour_index: np.ndarray,
    sink: Sink,
) -> None:
    """Score the requests as a model server would: the wrapped model, one call per batch of
    requests, each call's latency from a simulated clock; flushed after every hour."""
    schema = Schema(
        timestamp="scored_at",
        prediction="predicted_class",
        kinds={c.name: c.kind.value if c.kind else None for c in COLUMNS},
    )
    logger = MonitoringLogger(
        DEPLOYMENT, sink, config=schema, batch_rows=100_000, flush_seconds=3600
    )
    clock = SimulatedClock()
    server = monitor(model, logger, timer=clock)
    stamps = np.array(requests["scored_at"].dt.to_pydatetime(), dtype=object)
    features = model_input(requests)  # what the server hands the model, converted once
    with threadpool_limits(limits=1, user_api="openmp"):
        for hour in np.unique(hour_index):
            rows = np.flatnonzero(hour_index == hour)
            sizes = rng.geometric(1 / MEAN_BATCH_ROWS, rows.size)
            cuts = np.cumsum(sizes)
            for first, last in zip(np.r_[0, cuts[:-1]], cuts, strict=True):
                if first >= rows.size:
                    break
                batch = rows[first:last]
                clock.next_call(_call_latency(rng))
                server.predict_proba(
                    features.iloc[batch],
                    request_ids=requests["request_id"].iloc[batch].tolist(),
                    timestamps=list(stamps[batch]),
                )
            logger.flush()  # one file per hour
    if logger.close() or server.logging_errors:
        raise RuntimeError(f"the demo's traffic was not all logged: {logger.status()}")


def _call_latency(rng: np.random.Generator) -> float:
    """Seconds one model call takes: ~35 ms, and now and then a slow one."""
    latency = rng.lognormal(np.log(0.035), 0.35)
    return latency * rng.uniform(8.0, 25.0) if rng.random() < SLOW_CALLS else latency


class SimulatedClock:
    """A timer for ``monitor``: the wrapper reads it before and after each model call, and the
    call seems to take what ``next_call`` set."""

    def __init__(self) -> None:
        self._now = 0.0
        self._duration = 0.0
        self._started = False

    def next_call(self, seconds: float) -> None:
        self._duration = seconds

    def __call__(self) -> float:
        if self._started:
            self._now += self._duration
        self._started = not self._started
        return self._now


def _labels(
    rng: np.random.Generator, logs: pd.DataFrame, outcomes: np.ndarray, end: datetime
) -> pd.DataFrame:
    """Ground truth for ``LABELLED_SHARE`` of the requests, arriving an hour to days after
    scoring (lognormal delay); only what arrived by ``end``."""
    delay = rng.lognormal(np.log(LABEL_DELAY_MEDIAN_HOURS), LABEL_DELAY_SIGMA, len(logs)) + 1.0
    labelled_at = logs["scored_at"] + pd.to_timedelta(np.round(delay * 3_600_000_000), unit="us")
    known = rng.random(len(logs)) < LABELLED_SHARE
    arrived = known & (labelled_at < pd.Timestamp(end)).to_numpy()
    labels = pd.DataFrame(
        {
            "request_id": logs["request_id"].to_numpy()[arrived],
            "defaulted": outcomes[arrived],
            "labelled_at": labelled_at.to_numpy()[arrived],
        }
    )
    return labels.sort_values("labelled_at", ignore_index=True)


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def _clear(root: Path, paths: tuple[Path, ...]) -> None:
    """Remove a previous demo's output; refuse to touch files it did not write."""
    existing = [p for p in paths if p.exists()]
    if existing and not (root / MANIFEST).is_file():
        raise FileExistsError(
            f"{', '.join(str(p) for p in existing)} exist(s) but {root} holds no {MANIFEST}: "
            "not a previous demo, so nothing is replaced; choose another root"
        )
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _manifest(demo: DemoData) -> dict:
    """What was generated, as JSON-ready values (also marks ``root`` as demo output)."""
    return {
        "start": demo.start.isoformat(),
        "end": demo.end.isoformat(),
        "drift_start": demo.drift_start.isoformat() if demo.drift_start else None,
        "drifted_columns": list(demo.drifted_columns),
        "decorrelated_hours": [
            (demo.start + hour * HOUR).isoformat() for hour in demo.decorrelated_hours
        ],
        "regional_hours": [(demo.start + hour * HOUR).isoformat() for hour in demo.regional_hours],
        "rows": sum(demo.rows_per_hour),
        "reference_rows": demo.reference_rows,
        "labelled_rows": demo.labelled_rows,
        "columns": [
            {"name": c.name, "role": c.role.value, "kind": c.kind.value if c.kind else None}
            for c in demo.columns
        ],
    }


def _check_arguments(
    end: datetime, hours: int, drift_from_hour: int, rows_per_hour: int, reference_rows: int
) -> None:
    if not isinstance(end, datetime) or end.tzinfo is None or end.utcoffset() is None:
        raise ValueError(f"end must be a timezone-aware datetime, got {end!r}")
    if end.astimezone(UTC).replace(minute=0, second=0, microsecond=0) != end:
        raise ValueError(f"end must be a UTC hour boundary, got {end.isoformat()}")
    if hours < 1:
        raise ValueError(f"hours must be at least 1, got {hours!r}")
    if drift_from_hour < 0:
        raise ValueError(
            f"drift_from_hour must be >= 0 (>= hours means no drift), got {drift_from_hour!r}"
        )
    if rows_per_hour < 1:
        raise ValueError(f"rows_per_hour must be at least 1, got {rows_per_hour!r}")
    if reference_rows < MIN_REFERENCE_ROWS:
        raise ValueError(
            f"reference_rows must be at least {MIN_REFERENCE_ROWS} to train the model, "
            f"got {reference_rows!r}"
        )
