"""drift_scores.reference: references stored side by side in one window partition, and the
migration that adds the column keeps every row as drift against training."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, select

from monitoring_pipelines.stats.drift import DriftResult
from monitoring_pipelines.store.drift import read_drift_scores, write_drift_scores
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.migrate import alembic_config, current_revision, head_revision
from monitoring_pipelines.store.schema import alerts, drift_scores
from monitoring_pipelines.store.windows import windows_since

T0 = datetime(2026, 11, 3, 5, tzinfo=UTC)
H = timedelta(hours=1)


def _result(value: float) -> DriftResult:
    return DriftResult("psi", value, None, 0.25, "moderate", value >= 0.25, 900, 400)


def _revision() -> tuple[str, str]:
    """This change's revision and the one before it (found by name: renumbering is allowed)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    [mine] = [r for r in scripts.walk_revisions() if r.revision.endswith("_drift_reference")]
    return mine.revision, mine.down_revision


def test_references_share_the_window_partition(empty_store_url):
    engine = get_engine(empty_store_url)
    write_drift_scores(
        engine,
        "model_a",
        T0,
        T0 + H,
        "hour",
        {"x": [_result(0.1)]},
        {"last_week": {"x": [_result(0.3)]}, "launch": {"x": [_result(0.2)]}},
    )
    rows = read_drift_scores(engine, "model_a", T0, T0 + H, "hour", None)
    assert sorted((r["reference"], r["value"]) for r in rows) == [
        ("last_week", 0.3),
        ("launch", 0.2),
        ("training", 0.1),
    ]
    [training] = read_drift_scores(engine, "model_a", T0, T0 + H, "hour")
    assert training["value"] == 0.1
    [last_week] = read_drift_scores(engine, "model_a", T0, T0 + H, "hour", "last_week")
    assert last_week["value"] == 0.3
    # a rewrite replaces every reference's rows at once and is one newly committed window
    write_drift_scores(engine, "model_a", T0, T0 + H, "hour", {"x": [_result(0.12)]})
    rows = read_drift_scores(engine, "model_a", T0, T0 + H, "hour", None)
    assert [(r["reference"], r["value"]) for r in rows] == [("training", 0.12)]
    assert [
        (w.version, w.row_count) for w in windows_since(engine, "drift_scores", "hour", 0, 9)
    ] == [(2, 1)]


def test_the_migration_keeps_rows_as_drift_against_training(empty_store_url):
    _, previous = _revision()
    engine = create_engine(empty_store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), previous)
        score = {"deployment_id": "model_a", "granularity": "hour", "metric": "psi"}
        score |= {"value": 0.3, "threshold": 0.25, "status": "significant", "drifted": True}
        score |= {"reference_size": 900, "current_size": 400, "computed_at": T0}
        conn.execute(
            insert(drift_scores),
            [
                score
                | {"window_start": T0 + h * H, "window_end": T0 + (h + 1) * H}
                | {"column_name": c}
                for h in range(2)
                for c in ("age", "income")
            ],
        )
        alert = {"deployment_id": "model_a", "severity": "warning", "created_at": T0}
        alert |= {"window_start": T0, "slack_status": "sent", "cloudwatch_status": "skipped"}
        conn.execute(
            insert(alerts),
            [
                alert | {"dedup_key": "d", "kind": "drift", "column_name": "age", "metric": "psi"},
                alert
                | {"dedup_key": "r", "kind": "resolved", "column_name": "age", "metric": "psi"},
                alert | {"dedup_key": "n", "kind": "no_data", "column_name": None, "metric": None},
            ],
        )
    engine.dispose()
    engine = get_engine(empty_store_url)  # upgrades to head
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        stored = conn.execute(
            select(
                drift_scores.c.window_start, drift_scores.c.column_name, drift_scores.c.reference
            )
        ).all()
        kept = dict(conn.execute(select(alerts.c.dedup_key, alerts.c.reference)).all())
    assert sorted((c, ref) for _, c, ref in stored) == [
        ("age", "training"),
        ("age", "training"),
        ("income", "training"),
        ("income", "training"),
    ]
    assert kept == {"d": "training", "r": "training", "n": None}
