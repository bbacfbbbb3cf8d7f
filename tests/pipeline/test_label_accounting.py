"""Labels for unknown request ids are counted (and ignored): each hour accounts for the label
rows that arrived in it as matched by some hour's requests or unknown."""

from __future__ import annotations

from monitoring_pipelines.pipeline.performance import performance_windows
from monitoring_pipelines.store.performance import window_values
from tests.pipeline.test_performance_window import T0, H, config, world  # noqa: F401


def test_unknown_request_ids_are_counted_per_arrival_hour(tmp_path, world, sqlite_engine):  # noqa: F811
    _, labels, _ = world
    cfg = config(tmp_path)
    first, second = performance_windows(
        cfg, sqlite_engine, [("fraud", T0), ("fraud", T0 + H)], now=T0 + 100 * H
    )
    assert first.labels.arrived == 0  # nothing arrives in the hour of scoring itself
    arrived = labels[(labels["at"] >= T0 + H) & (labels["at"] < T0 + 2 * H)]
    ghosts = arrived.rid.str.startswith("ghost").sum()
    assert ghosts == 40 and second.labels.arrived == len(arrived)
    assert second.labels.unknown == 40 and second.labels.complete
    values = {(s, m): v for s, m, v in window_values(sqlite_engine, "fraud", T0, T0 + 2 * H)}
    assert values[(T0 + H, "labels_unknown_request_id")] == 40


def test_the_count_is_incomplete_until_earlier_hours_saw_the_labels(tmp_path, world, sqlite_engine):  # noqa: F811
    cfg = config(tmp_path)
    performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + H)  # labels through 1 h
    (second,) = performance_windows(cfg, sqlite_engine, [("fraud", T0 + H)], now=T0 + 100 * H)
    assert not second.labels.complete and second.labels.unknown > 40  # hour 0's not counted
    performance_windows(cfg, sqlite_engine, [("fraud", T0)], now=T0 + 100 * H)
    (again,) = performance_windows(cfg, sqlite_engine, [("fraud", T0 + H)], now=T0 + 100 * H)
    assert again.labels.complete and again.labels.unknown == 40
