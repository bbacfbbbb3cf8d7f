"""The alert policy: exact alerts for given drift results, cooldown, escalation, resolved."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring_pipelines.stats.alert_policy import (
    DRIFT,
    RESOLVED,
    AlertSettings,
    DriftRecord,
    LastAlert,
    ThresholdRule,
    decide_alerts,
    severity_rank,
)
from monitoring_pipelines.stats.retraining import (
    RetrainingPolicy,
    consecutive_run,
    decide_retraining,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
STATUS_BY_SEVERITY = {None: "no_drift", "warning": "moderate", "critical": "significant"}


def rec(hour: int, status: str, column="age", metric="psi", value=None, deployment="credit_risk"):
    drifted = status in ("moderate", "significant")
    default = {"no_drift": 0.02, "moderate": 0.15, "significant": 0.4}.get(status, 0.0)
    return DriftRecord(
        deployment_id=deployment,
        window_start=T0 + hour * HOUR,
        window_end=T0 + (hour + 1) * HOUR,
        granularity="hour",
        column_name=column,
        metric=metric,
        value=default if value is None else value,
        p_value=None,
        threshold=0.25,
        status=status,
        drifted=drifted,
    )


def decide(records, cooldown_hours=6, history=(), **kwargs):
    rules = AlertSettings(cooldown=timedelta(hours=cooldown_hours), **kwargs)
    return decide_alerts(records, {"credit_risk": rules}, history)


def test_exact_alerts_for_one_window():
    records = [
        rec(0, "significant", "age", "psi"),
        rec(0, "moderate", "annual_income", "psi"),
        rec(0, "no_drift", "region", "chi_squared"),
        rec(0, "insufficient_data", "loan_amount", "ks"),
    ]
    decision = decide(records)
    got = {(a.column_name, a.metric, a.severity, a.kind) for a in decision.alerts}
    assert got == {("age", "psi", "critical", DRIFT), ("annual_income", "psi", "warning", DRIFT)}
    keys = {a.dedup_key for a in decision.alerts}
    assert "credit_risk|hour|2026-11-01T00:00:00+00:00|age|psi|critical" in keys
    reasons = {s.record.column_name: s.reason for s in decision.suppressed}
    assert reasons == {
        "region": "stable",
        "loan_amount": "status insufficient_data: nothing to judge",
    }


def test_a_band_above_stable_without_drift_does_not_alert():
    """A small segment's psi of 0.15 is 'moderate' by the fixed table but under the noise
    threshold applied at its size (0.21): not drifted, so no alert, and after an alert it
    reads as resolved; a corrected test whose raw p-value was in the 'drifting' band likewise."""
    noisy = replace(rec(1, "moderate", value=0.148), threshold=0.2128, drifted=False)
    real = replace(rec(2, "moderate", value=0.25), threshold=0.2128)
    corrected = DriftRecord("credit_risk", T0 + HOUR, T0 + 2 * HOUR, "hour", "region",
                            "chi_squared", 12.0, 0.2, 0.05, "drifting", False)  # fmt: skip
    decision = decide([noisy, corrected])
    assert decision.alerts == ()
    assert {s.reason for s in decision.suppressed} == {"stable"}
    previous = LastAlert("credit_risk", "age", "psi", DRIFT, "warning", T0)
    assert [(a.kind, a.severity) for a in decide([noisy], history=[previous]).alerts] == [
        (RESOLVED, "info")
    ]
    assert [(a.kind, a.severity) for a in decide([noisy, real]).alerts] == [(DRIFT, "warning")]


def test_cooldown_renotifies_every_cooldown_in_window_time():
    records = [rec(h, "significant") for h in range(8)]
    decision = decide(records, cooldown_hours=3)
    hours = [(a.window_start - T0) // HOUR for a in decision.alerts]
    assert hours == [0, 3, 6]
    assert len(decision.suppressed) == 5
    assert all(s.reason.startswith("cooldown") for s in decision.suppressed)


def test_escalation_breaks_cooldown_but_deescalation_does_not():
    records = [rec(0, "moderate"), rec(1, "significant"), rec(2, "moderate"), rec(3, "significant")]
    decision = decide(records)
    assert [(a.severity, a.reason) for a in decision.alerts] == [
        ("warning", "moderate: severity warning"),
        ("critical", "escalated from warning to critical"),
    ]
    assert len({a.dedup_key for a in decision.alerts}) == 2


def test_resolved_notice_once_then_a_new_breach_alerts_again():
    records = [rec(0, "significant"), rec(1, "no_drift"), rec(2, "no_drift"), rec(3, "significant")]
    decision = decide(records)
    assert [(a.kind, a.severity, (a.window_start - T0) // HOUR) for a in decision.alerts] == [
        (DRIFT, "critical", 0),
        (RESOLVED, "info", 1),
        (DRIFT, "critical", 3),
    ]
    assert decision.alerts[1].dedup_key.endswith("|age|psi|resolved")


def test_history_from_a_previous_tick_is_honoured():
    previous = LastAlert("credit_risk", "age", "psi", DRIFT, "critical", T0 - 2 * HOUR)
    decision = decide([rec(0, "significant"), rec(0, "significant", "income")], history=[previous])
    assert [a.column_name for a in decision.alerts] == ["income"]
    resolved = decide([rec(0, "no_drift")], history=[previous])
    assert [a.kind for a in resolved.alerts] == [RESOLVED]
    after_resolved = LastAlert("credit_risk", "age", "psi", RESOLVED, "info", T0 - HOUR)
    assert decide([rec(0, "no_drift")], history=[after_resolved]).alerts == ()


def test_filters_min_severity_and_unknown_deployments():
    records = [rec(0, "moderate", "age"), rec(0, "significant", "income"), rec(0, "significant")]
    only_critical = decide(records, min_severity="critical", columns=frozenset({"income"}))
    assert [a.column_name for a in only_critical.alerts] == ["income"]
    other = decide([rec(0, "significant", deployment="fraud")])
    assert other.alerts == ()
    assert other.suppressed[0].reason == "no alert settings for fraud"


def test_threshold_rules_override_status_and_p_values_compare_below():
    settings_ = AlertSettings.from_mapping(
        {
            "thresholds": {"psi": {"warning": 0.1, "critical": 0.25}},
            "column_thresholds": {"region": {"chi_squared": {"p_value": {"critical": 0.01}}}},
            "cooldown_minutes": 60,
        }
    )
    psi = [rec(0, "no_drift", value=0.1), rec(0, "no_drift", "b", value=0.0999)]
    chi = DriftRecord("credit_risk", T0, T0 + HOUR, "hour", "region", "chi_squared", 30.0, 0.009,
                      0.05, "drifted", True)  # fmt: skip
    decision = decide_alerts([*psi, chi], {"credit_risk": settings_}, [])
    assert {(a.column_name, a.severity) for a in decision.alerts} == {
        ("age", "warning"),
        ("region", "critical"),
    }
    assert settings_.cooldown == HOUR


def test_bad_settings_name_the_field_and_choices():
    with pytest.raises(ValueError, match=r"unknown alert settings \['cooldown'\]"):
        AlertSettings.from_mapping({"cooldown": 5})
    with pytest.raises(ValueError, match=r"'urgent'.*info, warning, critical"):
        AlertSettings(min_severity="urgent")
    with pytest.raises(ValueError, match="'pvalue'"):
        ThresholdRule("warning", 0.1, "pvalue")


def test_input_order_does_not_matter():
    records = [rec(h, s, c) for h in range(6) for c, s in (("a", "significant"), ("b", "moderate"))]
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    assert decide(records, cooldown_hours=2) == decide(shuffled, cooldown_hours=2)


@settings(max_examples=150, deadline=None)
@given(
    severities=st.lists(st.sampled_from([None, "warning", "critical"]), min_size=1, max_size=30),
    cooldown=st.integers(min_value=0, max_value=8),
)
def test_every_alert_is_first_escalation_resolution_or_after_cooldown(severities, cooldown):
    records = [rec(h, STATUS_BY_SEVERITY[s]) for h, s in enumerate(severities)]
    alerts = decide(records, cooldown_hours=cooldown).alerts
    assert len({a.dedup_key for a in alerts}) == len(alerts)
    active = None  # the last drift alert not yet resolved, replayed independently
    for hour, severity in enumerate(severities):
        emitted = [a for a in alerts if a.window_start == T0 + hour * HOUR]
        if severity is None:
            expected = [RESOLVED] if active else []
            active = None
        elif active is None or severity_rank(severity) > severity_rank(active[1]):
            expected = [DRIFT]
        else:
            expected = [DRIFT] if hour - active[0] >= cooldown else []
        assert [a.kind for a in emitted] == expected, (hour, severities)
        if expected == [DRIFT]:
            active = (hour, severity)


def test_retraining_triggers_and_reasons():
    policy = RetrainingPolicy(accuracy_floor=0.8, min_drifted_features=2, consecutive_windows=3)
    drift = [rec(5, "significant", "a"), rec(5, "significant", "b"), rec(4, "significant", "c")]
    windows = [T0 + h * HOUR for h in (1, 3, 4, 5)]
    decision = decide_retraining("m", policy, accuracy=0.75, drift=drift, alerting_windows=windows)
    assert decision.retrain
    assert decision.reasons == (
        "accuracy 0.75 below floor 0.8",
        "2 drifted features in window 2026-11-01T05:00:00+00:00 (a, b) >= 2",
        "3 consecutive alerting windows >= 3",
    )
    calm = decide_retraining(
        "m", policy, accuracy=0.9, drift=drift[:1], alerting_windows=windows[:2]
    )
    assert not calm.retrain
    assert calm.reasons[0] == "accuracy 0.9 at or above floor 0.8"
    assert calm.reasons[2] == "0 consecutive alerting windows < 3"


def test_consecutive_run_counts_only_the_run_ending_at_the_latest_window():
    windows = [T0 + h * HOUR for h in (0, 1, 2, 5, 6)]
    assert consecutive_run(windows, HOUR, None) == 2
    assert consecutive_run(windows, HOUR, T0 + 2 * HOUR) == 3
    assert consecutive_run(windows, HOUR, T0 + 3 * HOUR) == 0
    with pytest.raises(ValueError, match="consecutive_windows must be >= 1"):
        RetrainingPolicy(consecutive_windows=0)


def test_replayed_or_backfilled_windows_are_not_alerted_again():
    previous = LastAlert("credit_risk", "age", "psi", DRIFT, "critical", T0 + 2 * HOUR)
    decision = decide(
        [rec(0, "no_drift"), rec(1, "significant"), rec(2, "significant")], history=[previous]
    )
    assert decision.alerts == ()
    assert all(
        s.reason.startswith("not after the last alert's window") for s in decision.suppressed
    )
