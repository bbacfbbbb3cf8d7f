"""The drift_scores table on SQLite and PostgreSQL: idempotent window writes, range reads,
and the windows committed after a sensor's commit_seq cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitoring_pipelines.stats.drift import score
from monitoring_pipelines.store.drift import (
    read_drift_scores,
    read_new_drift_scores,
    write_drift_scores,
)
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.windows import windows_since

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


def test_windows_since_a_commit_seq_and_their_rows(engine):
    deployment = f"d{RNG.integers(1 << 30)}"

    def mine(granularity: str, after: int = 0):
        found = windows_since(engine, "drift_scores", granularity, after, 1_000_000)
        return [w for w in found if w.deployment_id == deployment]

    write_drift_scores(engine, deployment, HOUR, HOUR + H, "hour", _scores(0.0))
    write_drift_scores(engine, deployment, HOUR + H, HOUR + 2 * H, "hour", _scores(0.0))
    write_drift_scores(engine, deployment, HOUR, HOUR + 24 * H, "day", _scores(0.5))
    first, second = mine("hour")
    assert (first.window_start, first.window_end, first.row_count, first.version) == (
        HOUR,
        HOUR + H,
        3,
        1,
    )
    [day] = mine("day")
    assert first.commit_seq < second.commit_seq < day.commit_seq
    rows = read_new_drift_scores(engine, "hour", first.commit_seq - 1, second.commit_seq)
    assert [r["window_start"] for r in rows] == [HOUR] * 3 + [HOUR + H] * 3
    assert {r["commit_seq"] for r in rows} == {first.commit_seq, second.commit_seq}
    assert read_new_drift_scores(engine, "hour", second.commit_seq, day.commit_seq) == []

    write_drift_scores(engine, deployment, HOUR, HOUR + H, "hour", _scores(2.0))
    [again] = mine("hour", second.commit_seq)  # the rewrite comes back once, after the others
    assert again.window_start == HOUR and again.version == 2 and again.commit_seq > day.commit_seq
    assert mine("hour", again.commit_seq) == []
    # the rows under the old commit_seq are gone with it: a reader never sees them twice
    assert read_new_drift_scores(engine, "hour", first.commit_seq - 1, first.commit_seq) == []
    rewritten = read_new_drift_scores(engine, "hour", again.commit_seq - 1, again.commit_seq)
    assert len(rewritten) == 3 and "detail" in rewritten[0]
    lean = read_new_drift_scores(engine, "hour", 0, again.commit_seq, with_detail=False)
    assert lean and "detail" not in lean[0]


def test_bad_granularity_and_deployment_are_rejected(sqlite_engine):
    with pytest.raises(ValueError, match="valid: hour, trailing_24h, day, week"):
        write_drift_scores(sqlite_engine, "model_a", HOUR, HOUR + H, "month", {})
    with pytest.raises(ValueError, match="unsafe deployment id"):
        write_drift_scores(sqlite_engine, "Model-A", HOUR, HOUR + H, "hour", {})
