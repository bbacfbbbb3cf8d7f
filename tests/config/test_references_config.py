"""drift.references in monitors.yaml: shorthand and full entries load; bad ones name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitoring_pipelines.config import ConfigError, parse_config
from monitoring_pipelines.stats.alert_policy import AlertSettings
from monitoring_pipelines.stats.references import Reference


def _config(references: list | None = None, alerted: list | None = None) -> dict:
    drift = {} if references is None else {"references": references}
    alerts = {} if alerted is None else {"references": alerted}
    return {
        "deployments": [
            {
                "id": "fraud_v2",
                "reference": {"path": "ref.parquet"},
                "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
                "start": "2026-11-01T00:00:00Z",
                "columns": [
                    {"name": "ts", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "country", "type": "categorical"},
                ],
                "drift": drift,
                "alerts": alerts,
            }
        ]
    }


def _references(references: list | None = None) -> list[Reference]:
    return parse_config(_config(references)).deployments[0].drift.production_references


def test_training_alone_is_the_default():
    assert _references() == []
    assert parse_config(_config()).deployments[0].drift.references[0].kind == "training"


def test_shorthand_and_full_entries_become_references():
    found = _references(
        [
            "training",
            "last_week",
            {"kind": "previous_day", "columns": ["amount"], "metrics": ["psi"]},
            {
                "kind": "window",
                "name": "launch",
                "start": "2026-11-01T00:00:00Z",
                "end": "2026-11-08T00:00:00Z",
            },
        ]
    )
    launch = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC)
    assert found == [
        Reference("last_week", "last_week"),
        Reference(
            "previous_day",
            "previous_day",
            columns=frozenset({"amount"}),
            metrics=frozenset({"psi"}),
        ),
        Reference("launch", "window", *launch),
    ]


@pytest.mark.parametrize(
    ("references", "message"),
    [
        (["yesterday"], r"references\[0\]\.kind: Input should be 'training', 'last_week'"),
        ([{"kind": "window", "start": "2026-11-01T00:00:00Z"}], r"references\[0\]: end: kind "),
        (
            [{"kind": "window", "start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}],
            r"references\[0\]: end: .* is not after start",
        ),
        (
            [{"kind": "window", "start": "2026-11-01T00:30:00Z", "end": "2026-11-02T00:00:00Z"}],
            r"references\[0\]: start: .* not on the hour",
        ),
        (
            [{"kind": "last_week", "start": "2026-11-01T00:00:00Z"}],
            r"references\[0\]: start: only a",
        ),
        ([{"kind": "last_week", "name": "Last Week"}], r"references\[0\]: name 'Last Week' must"),
        (["last_week", {"kind": "last_week"}], r"references: duplicate reference names"),
        ([{"kind": "last_week", "name": "training"}], r"references\[0\]: name 'training' is"),
        (
            [{"kind": "last_week", "metrics": ["psy"]}],
            r"references\[0\]\.metrics\[0\]: unknown metric 'psy'",
        ),
        ([{"kind": "training", "columns": ["amount"]}], r"references\[0\]: training is scored"),
        ([{"kind": "last_week", "colums": ["amount"]}], r"references\[0\]\.colums: Extra"),
        ([], r"references: List should have at least 1 item"),
    ],
)
def test_bad_references_name_the_field(references, message):
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.drift\." + message):
        _references(references)


def test_a_scoped_column_must_be_monitored():
    with pytest.raises(ConfigError, match=r"drift\.references\[0\]\.columns names .*'amout'"):
        _references([{"kind": "last_week", "columns": ["amout"]}])


def test_alerts_may_keep_to_some_references():
    config = parse_config(_config(["last_week"], alerted=["last_week"]))
    settings = AlertSettings.from_mapping(config.deployments[0].alerts)
    assert settings.references == frozenset({"last_week"})
    assert (
        AlertSettings.from_mapping(parse_config(_config()).deployments[0].alerts).references is None
    )
    with pytest.raises(ConfigError, match=r"deployments\[0\]: alerts\.references names "
                       r"reference\(s\) \['launch'\] that drift\.references does not score "
                       r"\(scored: last_week, training\)"):  # fmt: skip
        parse_config(_config(["last_week"], alerted=["training", "launch"]))
