"""Issue 14, item 6: bad input is refused with the field, file or value named, never a raw trace.

Each case starts from what happened before: a monitors.yaml value that could never work was
accepted (a NaN cooldown failed at the first sensor tick naming no key; ``n_bins: true``
became one bin; ``ks: 2`` failed only when drift_scores ran).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, func, select

from monitoring_pipelines.config import ConfigError, load_config
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.pipeline.aggregation import log_source
from monitoring_pipelines.sources.base import BadLogFileError
from monitoring_pipelines.sources.parquet import ParquetLogSource, hour_folder
from monitoring_pipelines.sources.sql import SqlLogSource
from monitoring_pipelines.stats.dataset import fit_baseline, profile_chunks
from monitoring_pipelines.stats.metrics.registry import check_threshold
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.schema import aggregates
from tests.defs.conftest import START

HOUR = timedelta(hours=1)

DEPLOYMENT = """
deployments:
  - id: fraud_v2
    reference: {path: ref.parquet}
    logs: {type: parquet, path: logs, timestamp_column: ts}
    start: 2026-11-01T00:00:00Z
    columns:
      - {name: ts, role: timestamp}
      - {name: amount, type: numerical}
      - {name: merchant, type: categorical}
"""


def _load(tmp_path, **deployment):
    """Load a monitors.yaml whose deployment gets the YAML snippets in ``deployment``."""
    data = yaml.safe_load(DEPLOYMENT)
    for key, snippet in deployment.items():
        data["deployments"][0][key] = yaml.safe_load(snippet)
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (
            {"alerts": "{thresholds: {psi: {warning: -0.1}}}"},
            r"alerts: thresholds\.psi\.warning: threshold -0\.1 of psi \(value\) must be",
        ),
        (
            {"alerts": "{thresholds: {psi: {critical: .nan}}}"},
            r"alerts: thresholds\.psi\.critical: threshold nan of psi",
        ),
        (
            {"alerts": "{thresholds: {ks: {p_value: {critical: 1.5}}}}"},
            r"alerts: thresholds\.ks\.p_value\.critical: .* must be finite and within \(0, 1\)",
        ),
        (
            {"alerts": "{thresholds: {psi: {severe: 0.3}}}"},
            r"thresholds\.psi\.severe: unknown severity",
        ),
        ({"alerts": "{metrics: [psii]}"}, r"alerts: metrics\[0\]: .*unknown metric 'psii'"),
        (
            {"alerts": "{columns: [no_such_column]}"},
            r"alerts\.columns names column\(s\) \['no_such_column'\] that are not monitored",
        ),
        (
            {"alerts": "{column_thresholds: {amout: {psi: {warning: 0.2}}}}"},
            r"alerts\.column_thresholds names column\(s\) \['amout'\]",
        ),
        (
            {"alerts": "{severity_channels: {critcal: C0ONCALL1}}"},
            r"alerts: severity_channels\.critcal \(the key\): Input should be 'info', 'warning'",
        ),
        ({"alerts": "{cooldown_minutes: .nan}"}, r"alerts: cooldown_minutes: .*finite number"),
        ({"alerts": "{cooldown_minutes: true}"}, r"alerts: cooldown_minutes: .*valid number"),
        ({"alerts": "{notify_resolved: 1}"}, r"alerts: notify_resolved: .*valid boolean"),
        ({"alerts": "{cooldown: 60}"}, r"alerts: .*unknown alert settings \['cooldown'\]"),
        ({"n_bins": "true"}, r"deployments\[0\]\.n_bins: Input should be a valid integer"),
        ({"max_categories": "0"}, r"deployments\[0\]\.max_categories: .*greater than 0"),
        (
            {"drift": "{thresholds: {psi: .nan}}"},
            r"deployments\[0\]\.drift: .*thresholds\.psi: threshold nan of psi",
        ),
        ({"drift": "{thresholds: {wasserstein: .inf}}"}, r"thresholds\.wasserstein: .*inf"),
        (
            {"drift": "{thresholds: {ks: 2}}"},
            r"drift: .*thresholds\.ks: threshold 2 of ks \(p_value\) must be finite and within",
        ),
        (
            {"drift": "{column_thresholds: {amount: {tvd: 1.2}}}"},
            r"column_thresholds\.amount\.tvd: threshold 1\.2 of tvd \(value\) .* \(0, 1\]",
        ),
        ({"drift": "{thresholds: {psi: true}}"}, r"drift\.thresholds\.psi: .*valid number"),
        ({"drift": "{min_rows: true}"}, r"drift\.min_rows: Input should be a valid integer"),
    ],
)
def test_a_monitors_value_that_cannot_work_is_refused_at_load_naming_the_field(
    tmp_path, deployment, message
):
    with pytest.raises(ConfigError, match=message) as refused:
        _load(tmp_path, **deployment)
    assert str(tmp_path / "monitors.yaml") in str(refused.value)


def test_thresholds_that_can_work_load(tmp_path):
    config = _load(
        tmp_path,
        drift="{thresholds: {psi: 0.2, ks: 0.01, tvd: 1}, min_rows: 50}",
        alerts="{thresholds: {ks: {p_value: {critical: 0.001}}, psi: {warning: 0.1}},"
        " cooldown_minutes: 30, severity_channels: {critical: C0ONCALL1}, columns: [amount]}",
        n_bins="20",
    )
    deployment = config.deployments[0]
    assert deployment.drift.thresholds == {"psi": 0.2, "ks": 0.01, "tvd": 1.0}
    assert deployment.n_bins == 20
    assert deployment.alerts["cooldown_minutes"] == 30


@pytest.mark.parametrize(
    ("metric", "value", "works"),
    [
        ("psi", 0.0, False),  # every value reaches it
        ("psi", 25.0, True),  # unbounded above
        ("tvd", 1.0, True),  # reached only at the maximum
        ("tvd", 1.0001, False),  # never reached
        ("ks", 0.05, True),
        ("ks", 1.0, False),  # every p-value is below 1 or equal: always drifted
        ("chi_squared", 0.0, False),  # no p-value is below 0
    ],
)
def test_check_threshold_against_the_metric_range(metric, value, works):
    if works:
        assert check_threshold(metric, value) == value
    else:
        with pytest.raises(ValueError, match=rf"threshold .* of {metric}"):
            check_threshold(metric, value)


@pytest.mark.parametrize("content", [b"", b"PAR1 this is not parquet"], ids=["empty", "corrupt"])
def test_an_unreadable_parquet_file_names_its_path(tmp_path, content):
    """Before: ``Parquet magic bytes not found in footer``, naming no file."""
    path = hour_folder(tmp_path, START) / "part-00000.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    source = ParquetLogSource(tmp_path, "scored_at")
    with pytest.raises(BadLogFileError, match=re.escape(str(path))) as refused:
        list(source.read_window(START, START + timedelta(hours=1)))
    assert refused.value.path == path
    assert "not a readable Parquet file" in str(refused.value)


def test_a_backfill_goes_on_past_a_corrupt_hour_and_fails_at_the_end_listing_it(
    tiny_deployment, dagster_instance
):
    """Before: a 3-hour backfill with a bad file at 01:00 stopped there; only 00:00 was stored."""
    bad = hour_folder(tiny_deployment.config.deployments[0].logs.path, START + HOUR)
    (bad / "part-00000.parquet").write_bytes(b"PAR1 truncated")
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    assert (
        defs.resolve_job_def(BASELINE_JOB)
        .execute_in_process(partition_key="tiny_model", instance=dagster_instance)
        .success
    )

    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance,
        tags={
            "dagster/asset_partition_range_start": str(hour_key("tiny_model", START)),
            "dagster/asset_partition_range_end": str(hour_key("tiny_model", START + 2 * HOUR)),
        },
        raise_on_error=False,
    )

    assert not result.success
    error = result.failure_data_for_node("hourly_aggregates").error
    assert error.cls_name == "Failure" and error.cause is None  # defs/failures.py
    assert "WindowsFailedError: 1 of 3 hour(s) failed" in error.message
    assert f"tiny_model 2026-11-02 01:00: {bad / 'part-00000.parquet'}" in error.message
    engine = get_engine(tiny_deployment.database_url)
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(aggregates.c.timestamp, func.max(aggregates.c.row_count))
                .where(aggregates.c.is_baseline.is_(False))
                .group_by(aggregates.c.timestamp)
            ).all()
        )
    good = [START, START + 2 * HOUR]
    assert {_utc(t): n for t, n in stored.items()} == {
        h: len(tiny_deployment.logs[h]) for h in good
    }
    materialized = {
        m.partition: m.metadata["rows"].value
        for m in result.asset_materializations_for_node("hourly_aggregates")
    }
    assert materialized == {hour_key("tiny_model", h): len(tiny_deployment.logs[h]) for h in good}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_a_logs_path_that_does_not_exist_fails_every_hour_naming_it(
    tiny_deployment, dagster_instance
):
    """Before: a typo in logs.path gave 0 rows an hour, every check passing, forever."""
    logs = tiny_deployment.config.deployments[0].logs.path
    logs.rename(logs.with_name("logs-moved"))
    defs = build_definitions(tiny_deployment.config, str(tiny_deployment.config_path))
    assert (
        defs.resolve_job_def(BASELINE_JOB)
        .execute_in_process(partition_key="tiny_model", instance=dagster_instance)
        .success
    )
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dagster_instance,
        partition_key=hour_key("tiny_model", START),
        raise_on_error=False,
    )
    assert not result.success
    error = result.failure_data_for_node("hourly_aggregates").error
    assert error.cls_name == "Failure" and "WindowsFailedError: " in error.message
    assert f"{logs}: logs.path is not a directory (no such folder)" in error.message
    with get_engine(tiny_deployment.database_url).connect() as conn:
        hours = conn.execute(
            select(func.count()).select_from(aggregates).where(aggregates.c.is_baseline.is_(False))
        ).scalar_one()
    assert hours == 0  # nothing stored that would look like a quiet hour


def test_a_monitored_column_missing_from_a_sql_table_is_counted_missing(empty_store_url):
    """Before: the SQL source failed the hour (``table has no column 'merchant'``) where the
    Parquet source counts the column as missing and lists it absent."""
    logs = create_engine(empty_store_url)
    stamps = [START + timedelta(minutes=m) for m in range(0, 60, 6)]
    pd.DataFrame({"ts": stamps, "amount": np.arange(10.0)}).to_sql("scores", logs, index=False)
    reference = pd.DataFrame({"amount": np.arange(100.0), "merchant": ["a", "b"] * 50})
    baseline = fit_baseline(reference, {"amount": "numerical", "merchant": "categorical"})
    for pushdown in (False, True):  # PostgreSQL profiles in the database with pushdown
        source = SqlLogSource(empty_store_url, "scores", "ts", pushdown=pushdown)
        profile = source.profile_window(START, START + HOUR, baseline) or profile_chunks(
            source.read_window(START, START + HOUR, ["amount", "merchant", "ts"]), baseline
        )
        assert profile.row_count == 10 and profile.absent_columns == ("merchant",)
        assert profile.columns["merchant"].missing == 10
        assert profile.columns["amount"].count == 10
    logs.dispose()


@pytest.mark.parametrize("address", ["db:notaport/logs", "no url at all"])
def test_an_unparsable_sql_log_url_names_its_variable_never_its_value(
    tmp_path, monkeypatch, address
):
    """Before: ``invalid literal for int() with base 10: 'notaport'``, naming neither."""
    password = secrets.token_hex(8)
    url = address if " " in address else f"postgresql://svc:{password}@{address}"
    monkeypatch.setenv("SCORES_DATABASE_URL", url)
    config = _load(
        tmp_path,
        logs="{type: sql, url_env: SCORES_DATABASE_URL, table: scores, timestamp_column: ts}",
    )
    with pytest.raises(ValueError, match="SCORES_DATABASE_URL is not a SQLAlchemy") as refused:
        log_source(config, config.deployments[0])
    assert password not in str(refused.value) and "notaport" not in str(refused.value)
