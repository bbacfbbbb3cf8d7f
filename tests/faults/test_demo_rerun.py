"""Issue 14, item 7b: a demo re-run deleted the previous demo's logs but left its store rows,
metrics and pending alerts for those hours. ``clear_outside`` forgets every window of the
deployment that does not overlap the new range, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks
from monitoring_pipelines.stats.drift import score
from monitoring_pipelines.stats.profile import Kind
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.aggregates import read_baseline, read_windows, write_profile
from monitoring_pipelines.store.cleanup import clear_outside
from monitoring_pipelines.store.drift import read_drift_scores, write_drift_scores
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import written_windows

H = timedelta(hours=1)
OLD = datetime(2026, 11, 9, 20, tzinfo=UTC)  # the previous demo: 20:00 to 04:00
NEW = OLD + 6 * H  # the re-run: 02:00 to 10:00; 02:00 and 03:00 are in both


def test_rerun_forgets_only_the_hours_it_replaced(empty_store_url) -> None:
    engine = get_engine(empty_store_url)
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.normal(size=500)})
    baseline = fit_baseline(frame, {"x": Kind.NUMERICAL}, n_bins=5)
    write_profile(engine, "credit_risk", OLD, baseline, is_baseline=True)
    reference = rng.normal(size=500)
    for i in range(8):
        hour = OLD + i * H
        write_profile(engine, "credit_risk", hour, profile_chunks([frame], baseline),
                      is_baseline=False, window_end=hour + H)  # fmt: skip
        write_drift_scores(engine, "credit_risk", hour, hour + H, "hour",
                           {"x": (score("psi", reference, rng.normal(size=100)),)})  # fmt: skip
        outbox.enqueue(engine, [outbox.metrics_entry("credit_risk", hour, hour + H, "hour", [], 1)])
    day = datetime(2026, 11, 10, tzinfo=UTC)  # overlaps the new range: rewritten, kept
    write_drift_scores(engine, "credit_risk", day, day + 24 * H, "day",
                       {"x": (score("psi", reference, rng.normal(size=100)),)})  # fmt: skip
    outbox.enqueue(engine, [outbox.notice_entry("n", "a notice of no window")])

    deleted = clear_outside(engine, "credit_risk", NEW, NEW + 8 * H)

    assert deleted == {
        "aggregates": 6,
        "drift_scores": 6,
        "model_performance": 0,
        "alerts": 6,
        "written_windows": 6,
    }  # fmt: skip  (6 old hours, one column each)
    assert sorted(read_windows(engine, "credit_risk", OLD, NEW + 8 * H, baseline)) == [
        NEW, NEW + H,
    ]  # fmt: skip
    assert read_baseline(engine, "credit_risk") is not None
    left = read_drift_scores(engine, "credit_risk", OLD - 24 * H, NEW + 8 * H)
    assert sorted({(r["granularity"], r["window_start"]) for r in left}) == [
        ("day", day), ("hour", NEW), ("hour", NEW + H),
    ]  # fmt: skip
    rows = outbox.select_rows(engine)
    assert sorted((r["kind"], r["window_start"]) for r in rows if r["kind"] == "metrics") == [
        ("metrics", NEW), ("metrics", NEW + H),
    ]  # fmt: skip
    assert [r["kind"] for r in rows if r["kind"] == "notice"] == ["notice"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(written_windows)).scalar() == 3
