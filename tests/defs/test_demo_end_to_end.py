"""The demo end to end on a reduced size: generate, materialize baseline and every hour through
Dagster into a persistent DAGSTER_HOME, and find the injected drift where it was injected."""

from __future__ import annotations

import io
from datetime import timedelta

import dagster as dg
import pytest

from monitoring_pipelines.alerts.slack_messages import MULTIVARIATE_LABEL, drift_message
from monitoring_pipelines.defs.demo import DemoSettings, run_demo
from monitoring_pipelines.demo.generate import decorrelated_hours, regional_hours
from monitoring_pipelines.stats.dataset import MULTIVARIATE
from tests.conftest import DEMO_DRIFT_FROM as DRIFT_FROM
from tests.conftest import DEMO_DRIFTED as DRIFTED
from tests.conftest import DEMO_END as END
from tests.conftest import DEMO_HOURS as HOURS
from tests.conftest import REPO


@pytest.fixture
def demo(demo_run):
    return demo_run.result, demo_run.output, demo_run.home


def test_every_hour_is_materialized_in_the_persistent_instance(demo):
    result, output, home = demo
    assert len(result.windows) == HOURS
    with dg.DagsterInstance.from_config(str(home)) as instance:
        key = dg.AssetKey("drift_scores")
        partitions = instance.get_materialized_partitions(key)
    assert len([p for p in partitions if p.startswith("credit_risk|")]) == HOURS
    assert "[3/6] backfilling 8 hours" in output


SHUFFLED = decorrelated_hours(HOURS, DRIFT_FROM)  # loan_amount shuffled: hours 2 and 3
REGIONAL = regional_hours(END - HOURS * timedelta(hours=1), HOURS, DRIFT_FROM)  # hour 0


def test_injected_drift_is_found_from_its_first_hour_and_nowhere_else(demo):
    result, output, _ = demo
    hours = sorted(result.drifted)
    assert len(hours) == HOURS and SHUFFLED == (2, 3)
    for index, hour in enumerate(hours):
        drifted = set(result.drifted[hour])
        if index in SHUFFLED:  # the correlation change: multivariate drift, no column
            assert drifted == {MULTIVARIATE}, f"hour {hour}: {drifted}"
        elif index < DRIFT_FROM:
            assert drifted == set(), f"false alarm at clean hour {hour}: {drifted}"
        else:
            assert drifted - {MULTIVARIATE} == DRIFTED, f"hour {hour}: {drifted}"
    assert set(result.onset) == DRIFTED | {MULTIVARIATE}
    onset = dict(result.onset)  # a copy: the session's demo result is shared by other tests
    assert onset.pop(MULTIVARIATE) == hours[SHUFFLED[0]]
    assert all(h == hours[DRIFT_FROM] for h in onset.values())
    assert "drifted columns (first drifted hour):" in output
    shown = ", ".join(f"{hours[i]:%H:%M}" for i in SHUFFLED)
    assert f"no column drifted): {shown}" in output


def test_rerunning_the_demo_is_safe_and_gives_the_same_rows(demo, monkeypatch):
    result, _, home = demo
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("MONITORS_CONFIG", str(REPO / "monitors.yaml"))
    monkeypatch.delenv("MONITORING_DATABASE_URL", raising=False)
    again = run_demo(
        DemoSettings(
            hours=HOURS,
            drift_from_hour=DRIFT_FROM,
            rows_per_hour=1500,
            reference_rows=6000,
            end=END,
            retrain=False,
        ),
        io.StringIO(),
    )
    assert {h: p.row_count for h, p in again.windows.items()} == {
        h: p.row_count for h, p in result.windows.items()
    }
    assert again.drifted == result.drifted


def test_the_demo_ends_listing_the_alerts_for_the_drifted_columns(demo):
    from monitoring_pipelines.store.alerts import list_recent
    from monitoring_pipelines.store.engine import get_engine

    result, output, home = demo
    engine = get_engine(f"sqlite:///{home / 'monitoring.db'}")
    alerts = [row for row in list_recent(engine, limit=1000) if row["kind"] == "drift"]
    drift_alerts = [row for row in alerts if row["segment"] == "__all__"]  # the population's
    multivariate = [row for row in drift_alerts if row["column_name"] == MULTIVARIATE]
    columns = [row for row in drift_alerts if row["column_name"] != MULTIVARIATE]
    assert {row["column_name"] for row in columns} == DRIFTED
    first_drifted = sorted(result.drifted)[DRIFT_FROM]
    assert {row["window_start"] for row in columns} == {first_drifted}  # then cooldown
    # the correlation change alerts once, in its first hour, with the band it left
    (alert,) = multivariate
    assert alert["window_start"] == sorted(result.drifted)[SHUFFLED[0]]
    assert alert["metric"] == "reconstruction_error" and alert["value"] > alert["threshold"]
    band = alert["payload"]["multivariate"]
    assert band["mean_error"] > band["upper"] > band["reference_mean"] > band["lower"]
    text = str(drift_message([alert]))
    assert MULTIVARIATE_LABEL in text and "mean reconstruction error" in text
    # the segments (monitors.yaml's region key): in the regional hour the northeast's income
    # alone, which the population hides; in the drifted hours only the drifted columns
    hours = sorted(result.drifted)
    [regional] = REGIONAL
    segments = [row for row in alerts if row["segment"] != "__all__"]
    assert {
        (row["segment"], row["column_name"])
        for row in segments
        if row["window_start"] == hours[regional]
    } == {("region=northeast", "annual_income")}
    windows = {row["window_start"] for row in segments}
    assert {hours[regional], first_drifted} <= windows <= {hours[regional], *hours[DRIFT_FROM:]}
    assert {row["column_name"] for row in segments} == DRIFTED
    hidden = output.split("segment drift the population hides (alerted for the segment only):")
    assert len(hidden) == 2
    [line] = hidden[1].split("\n\n")[0].strip().splitlines()
    assert line.startswith(f"{hours[regional]:%Y-%m-%d %H:%M}  region=northeast  annual_income: ")
    assert "(population " in line
    assert "alerts (monitoring-pipelines alerts):" in output
    for column in DRIFTED:
        assert column in output.split("alerts (monitoring-pipelines alerts):")[1]


def test_the_ui_metadata_shows_the_multivariate_score_and_the_model(demo):
    from monitoring_pipelines.defs.partitions import hour_key

    result, _, home = demo
    hours = sorted(result.drifted)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("drift_scores")), limit=100
        ).records
        baseline = instance.fetch_materializations(dg.AssetKey("baseline_statistics"), limit=1)
    by_partition = {r.partition_key: r.asset_materialization.metadata for r in records}
    for index, hour in enumerate(hours):
        metadata = by_partition[str(hour_key("credit_risk", hour))]
        error, upper = (
            metadata["reconstruction_error"].value,
            metadata["reconstruction_error_upper"].value,
        )
        assert metadata["reconstruction_error_lower"].value < upper
        if index in SHUFFLED:
            assert metadata["multivariate_drifted"].value is True and error > upper
            assert metadata["multivariate_drift"].value >= 3
        elif index < DRIFT_FROM:
            assert metadata["multivariate_drifted"].value is False
    model = baseline.records[0].asset_materialization.metadata
    assert model["multivariate_columns"].value == 14  # the demo's features
    assert 0 < model["multivariate_components"].value < 14
    assert model["multivariate_explained_variance"].value >= 0.65


P_VALUE_TESTS = {
    "ks",
    "chi_squared",
    "g_test",
    "two_proportion_z",
    "anderson_darling",
    "cramer_von_mises",
}


def test_max_drift_score_is_the_real_columns_distance_and_the_multivariate_score_its_own(demo):
    """Per partition, ``max_drift_score`` is the largest value/threshold among the real
    columns' distances, recomputed here from the stored drift_scores rows, so the shuffled
    hours (multivariate drift alone, ~10 σ) stay as low as the clean ones in the UI plot and
    only the drifted hours peak; the multivariate score is ``multivariate_drift``."""
    from monitoring_pipelines.defs.partitions import hour_key
    from monitoring_pipelines.store.drift import read_drift_scores
    from monitoring_pipelines.store.engine import get_engine

    result, _, home = demo
    hours = sorted(result.drifted)
    rows = read_drift_scores(
        get_engine(f"sqlite:///{home / 'monitoring.db'}"), "credit_risk", hours[0], END, "hour"
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("drift_scores")), limit=100
        ).records
    by_partition = {r.partition_key: r.asset_materialization.metadata for r in records}
    shown = {}
    for index, hour in enumerate(hours):
        metadata = by_partition[str(hour_key("credit_risk", hour))]
        ratios = [
            (row["value"] / row["threshold"], row["value"])
            for row in rows
            if row["window_start"] == hour
            and row["column_name"] != MULTIVARIATE
            and row["metric"] not in P_VALUE_TESTS
            and row["value"] is not None
            and row["threshold"]
        ]
        expected = round(max(ratios)[1], 4)
        shown[index] = metadata["max_drift_score"].value
        assert shown[index] == pytest.approx(expected, abs=1e-12), f"hour {index}"
        if index in SHUFFLED:
            assert metadata["multivariate_drift"].value >= 3, f"hour {index}"
    clean = [shown[i] for i in range(DRIFT_FROM)]  # the shuffled hours among them
    assert max(clean) < 0.1 < 0.5 < min(shown[i] for i in range(DRIFT_FROM, HOURS))


def test_the_drift_check_is_error_for_the_population_and_warn_for_segments_only(demo):
    """Per hour of one run, the ``drift`` check as the instance holds it: the regional hour
    (only region=northeast's income drifted, the population stable) fails with severity WARN
    naming that pair; the population's drift (the shuffled and the drifted hours) fails with
    ERROR; the clean hour passes. The pairs are recomputed from the stored segment rows."""
    from monitoring_pipelines.defs.partitions import hour_key
    from monitoring_pipelines.store.drift import read_drift_scores
    from monitoring_pipelines.store.engine import get_engine

    result, _, home = demo
    hours = sorted(result.drifted)
    rows = read_drift_scores(
        get_engine(f"sqlite:///{home / 'monitoring.db'}"),
        "credit_risk",
        hours[0],
        END,
        "hour",
        segment=None,
    )
    stored = {
        hour: sorted(
            {
                (r["segment"], r["column_name"])
                for r in rows
                if r["window_start"] == hour and r["segment"] != "__all__" and r["drifted"]
            }
        )
        for hour in hours
    }
    key = dg.AssetCheckKey(dg.AssetKey("drift_scores"), "drift")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.event_log_storage.get_asset_check_execution_history(key, limit=1000)
    latest = {}
    for record in records:  # newest first: the rerun test may have judged the hours again
        if record.event is not None and record.event.dagster_event is not None:
            latest.setdefault(record.partition, record.event.dagster_event.event_specific_data)
    [regional] = REGIONAL
    assert stored[hours[regional]] == [("region=northeast", "annual_income")]
    for index, hour in enumerate(hours):
        check = latest[str(hour_key("credit_risk", hour))]
        metadata = {k: v.value for k, v in check.metadata.items()}
        pairs = stored[hour]
        assert metadata["drifted_segment_columns"] == len(pairs), f"hour {index}"
        assert metadata["drifted_segments"] == len({s for s, _ in pairs}), f"hour {index}"
        if index == regional:
            assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
            assert metadata["drifted_columns"] == 0  # the population's
            assert metadata["segment_drift"] == "- region=northeast: annual_income"
            assert (
                check.description
                == "population stable; in segments: region=northeast annual_income"
            )
        elif index in SHUFFLED or index >= DRIFT_FROM:
            assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
            assert metadata["drifted_columns"] >= 1, f"hour {index}"
        else:  # a clean hour: nothing drifted, in the population or any region
            assert check.passed and pairs == [], f"hour {index}: {pairs}"
            assert metadata["segment_drift"] == "no segment drifted"
