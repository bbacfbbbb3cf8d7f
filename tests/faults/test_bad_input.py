"""Issue 14, item 6: bad input is refused with the field, file or value named, never a raw trace.

Each case starts from what happened before: a monitors.yaml value that could never work was
accepted (a NaN cooldown failed at the first sensor tick naming no key; ``n_bins: true``
became one bin; ``ks: 2`` failed only when drift_scores ran).
"""

from __future__ import annotations

import pytest
import yaml

from monitoring_pipelines.config import ConfigError, load_config
from monitoring_pipelines.stats.metrics.registry import check_threshold

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
