"""The drift_scores table on SQLite and PostgreSQL: idempotent window writes, range reads,
and "new since id" reads for a sensor cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitoring_pipelines.stats.drift import score
from monitoring_pipelines.store.drift import (
    read_drift_scores,
    read_drift_scores_since,
    write_drift_scores,
)
from monitoring_pipelines.store.engine import get_engine

HOUR = datetime(2026, 11, 3, 5, tzinfo=UTC)
H = timedelta(hours=1)
RNG = np.random.default_rng(2)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return get_engine(request.getfixturevalue("postgres_url"))


def _scores(shift: float):
    reference = RNG.normal(size=1000)
    return {
        "x": (
            score("psi", reference, RNG.normal(shift, 1, 500)),
            score("ks", reference, RNG.normal(shift, 1, 500)),
        ),
        "const": (score("z_score", np.ones(10), np.ones(5)),),
    }


def test_rewriting_a_window_replaces_its_rows(engine):
    deployment = f"d{RNG.integers(1 << 30)}"
    write_drift_scores(engine, deployment, HOUR, HOUR + H, "hour", _scores(0.0))
    write_drift_scores(engine, deployment, HOUR + H, HOUR + 2 * H, "hour", _scores(0.0))
    first = read_drift_scores(engine, deployment, HOUR, HOUR + H)
    assert write_drift_scores(engine, deployment, HOUR, HOUR + H, "hour", _scores(2.0)) == 3
    rows = read_drift_scores(engine, deployment, HOUR, HOUR + 2 * H, "hour")
    assert len(rows) == 6
    rewritten = [r for r in rows if r["window_start"] == HOUR]
    assert {r["id"] for r in rewritten}.isdisjoint({r["id"] for r in first})
    psi = next(r for r in rewritten if r["metric"] == "psi")
    assert psi["drifted"] and psi["value"] > 1 and psi["window_end"] == HOUR + H
    const = next(r for r in rewritten if r["column_name"] == "const")
    assert const["value"] is None and const["status"] == "undefined"
    assert "constant" in const["detail"]["undefined"]


def test_new_since_id_returns_rows_written_after_the_cursor(engine):
    deployment = f"d{RNG.integers(1 << 30)}"
    write_drift_scores(engine, deployment, HOUR, HOUR + H, "hour", _scores(0.0))
    cursor = max(r["id"] for r in read_drift_scores_since(engine, 0, deployment))
    assert read_drift_scores_since(engine, cursor, deployment) == []
    write_drift_scores(engine, deployment, HOUR, HOUR + 24 * H, "day", _scores(0.5))
    new = read_drift_scores_since(engine, cursor, deployment, limit=2)
    assert len(new) == 2 and all(r["granularity"] == "day" for r in new)
    assert [r["id"] for r in new] == sorted(r["id"] for r in new)


def test_bad_granularity_and_deployment_are_rejected(sqlite_engine):
    with pytest.raises(ValueError, match="valid: hour, trailing_24h, day, week"):
        write_drift_scores(sqlite_engine, "model_a", HOUR, HOUR + H, "month", {})
    with pytest.raises(ValueError, match="unsafe deployment id"):
        write_drift_scores(sqlite_engine, "Model-A", HOUR, HOUR + H, "hour", {})
