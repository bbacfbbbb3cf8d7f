"""CloudWatch: datums per window, batching within request limits, moto read-back, throttling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from monitoring_pipelines.alerts.cloudwatch import (
    MAX_DATUMS_PER_CALL,
    CloudWatchSettings,
    CloudWatchTransport,
    batches,
    too_old,
    window_datums,
)
from tests.alerts.conftest import cloudwatch_settings

PAYLOAD = {
    "rows_scored": 1234,
    "scores": [
        {"column_name": "age", "metric": "psi", "value": 0.31, "drifted": True},
        {"column_name": "age", "metric": "ks", "value": 0.12, "drifted": True},
        {"column_name": "income", "metric": "psi", "value": 0.05, "drifted": False},
        {"column_name": "region", "metric": "chi_squared", "value": None, "drifted": False},
    ],
}


def recent_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def test_window_datums_names_dimensions_and_summary():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    datums = window_datums("credit_risk", start, PAYLOAD, CloudWatchSettings())
    by_name = {}
    for datum in datums:
        by_name.setdefault(datum["MetricName"], []).append(datum)
    assert sorted(by_name) == ["drift_score", "drifted_columns", "max_drift_score", "rows_scored"]
    scores = {
        tuple(d["Value"] for d in datum["Dimensions"]): datum["Value"]
        for datum in by_name["drift_score"]
    }
    assert scores == {
        ("credit_risk", "age", "psi"): 0.31,
        ("credit_risk", "age", "ks"): 0.12,
        ("credit_risk", "income", "psi"): 0.05,
    }
    assert [d["Name"] for d in by_name["drift_score"][0]["Dimensions"]] == [
        "ModelName",
        "Feature",
        "Metric",
    ]
    assert by_name["max_drift_score"][0]["Value"] == max(0.31, 0.12, 0.05)
    assert by_name["drifted_columns"][0]["Value"] == 1.0  # age, counted once
    assert by_name["rows_scored"][0]["Value"] == 1234.0
    assert all(d["Timestamp"] == start for d in datums)


def test_batches_respect_the_request_limit():
    datums = [{"MetricName": "m", "Value": float(i)} for i in range(2500)]
    sizes = [len(batch) for batch in batches(datums)]
    assert sizes == [1000, 1000, 500]


@given(st.integers(0, 3500))
def test_batches_keep_every_datum_once_in_order(n):
    datums = [{"MetricName": "m", "Value": float(i)} for i in range(n)]
    split = list(batches(datums))
    assert all(0 < len(batch) <= MAX_DATUMS_PER_CALL for batch in split)
    assert [d for batch in split for d in batch] == datums


def test_put_and_read_back_from_moto(cloudwatch, cloudwatch_reader):
    start = recent_hour()
    datums = window_datums("credit_risk", start, PAYLOAD, cloudwatch.settings)
    assert cloudwatch.put(datums) == 1
    namespace = cloudwatch.settings.namespace
    listed = cloudwatch_reader.list_metrics(Namespace=namespace)["Metrics"]
    assert {m["MetricName"] for m in listed} == {
        "drift_score",
        "max_drift_score",
        "drifted_columns",
        "rows_scored",
    }
    result = cloudwatch_reader.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "age_psi",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "drift_score",
                        "Dimensions": [
                            {"Name": "ModelName", "Value": "credit_risk"},
                            {"Name": "Feature", "Value": "age"},
                            {"Name": "Metric", "Value": "psi"},
                        ],
                    },
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            },
            {
                "Id": "max_score",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "max_drift_score",
                        "Dimensions": [{"Name": "ModelName", "Value": "credit_risk"}],
                    },
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            },
        ],
        StartTime=start - timedelta(hours=1),
        EndTime=start + timedelta(hours=1),
    )
    values = {r["Id"]: r["Values"] for r in result["MetricDataResults"]}
    assert values == {"age_psi": [0.31], "max_score": [0.31]}


def test_throttled_calls_are_retried(throttling_proxy, cloudwatch_reader):
    transport = CloudWatchTransport(cloudwatch_settings(throttling_proxy.url))
    throttling_proxy.throttle = 2
    transport.put(window_datums("credit_risk", recent_hour(), PAYLOAD, transport.settings))
    assert (throttling_proxy.throttled, throttling_proxy.forwarded) == (2, 1)
    listed = cloudwatch_reader.list_metrics(Namespace=transport.settings.namespace)["Metrics"]
    assert len(listed) == 6


def test_throttling_beyond_max_attempts_raises(throttling_proxy):
    transport = CloudWatchTransport(cloudwatch_settings(throttling_proxy.url, max_attempts=2))
    throttling_proxy.throttle = 10
    with pytest.raises(ClientError, match="Throttling"):
        transport.put(window_datums("credit_risk", recent_hour(), PAYLOAD, transport.settings))
    assert (throttling_proxy.throttled, throttling_proxy.forwarded) == (2, 0)


def test_drift_alarm_is_created_and_updated(cloudwatch, cloudwatch_reader):
    name = cloudwatch.put_drift_alarm("credit_risk", 0.25)
    cloudwatch.put_drift_alarm("credit_risk", 0.3)
    [alarm] = cloudwatch_reader.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        "max_drift_score",
        "Maximum",
        0.3,
    )
    assert alarm["Dimensions"] == [{"Name": "ModelName", "Value": "credit_risk"}]


def test_settings_validation_and_age_limit():
    with pytest.raises(ValueError, match=r"'legacy'.*'standard' or 'adaptive'"):
        CloudWatchSettings(retry_mode="legacy")
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert too_old(now - timedelta(days=15), now)
    assert not too_old(now - timedelta(days=13), now)
    env = {"CLOUDWATCH_NAMESPACE": "Ns", "AWS_ENDPOINT_URL_CLOUDWATCH": "http://x"}
    settings = CloudWatchSettings.from_env(env)
    assert (settings.namespace, settings.endpoint_url) == ("Ns", "http://x")
