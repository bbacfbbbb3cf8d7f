"""monitors.yaml: the repository's file loads; bad files fail with the field that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitoring_pipelines.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def _valid() -> dict:
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
                    {"name": "label", "type": "categorical", "role": "label"},
                ],
            }
        ]
    }


def test_the_repository_file_loads():
    config = load_config(REPO / "monitors.yaml")
    assert "credit_risk" in config.ids
    deployment = config.deployment("credit_risk")
    assert deployment.monitored["annual_income"] == "numerical"
    assert "defaulted" not in deployment.monitored  # labels are not profiled as features
    assert deployment.response_columns == {"predicted_class", "confidence", "score"}
    assert "latency_ms" not in deployment.monitored


def test_paths_resolve_against_the_file_and_expand_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_ROOT", "/srv/data")
    data = _valid()
    data["deployments"][0]["logs"]["path"] = "${DATA_ROOT}/logs"
    config = parse_config(data, base=tmp_path)
    deployment = config.deployments[0]
    assert deployment.reference.path == tmp_path / "ref.parquet"
    assert deployment.logs.path == Path("/srv/data/logs")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["deployments"][0].update(id="Fraud-V2"), r"deployments\[0\]\.id: .*unsafe"),
        (lambda d: d["deployments"][0].update(id="a; drop table x"), r"deployments\[0\]\.id"),
        (lambda d: d["deployments"][0].update(id="x" * 49), r"deployments\[0\]\.id"),
        (lambda d: d["deployments"][0].pop("reference"), r"deployments\[0\]\.reference: Field"),
        (
            lambda d: d["deployments"][0]["columns"][1].update(type="numeric"),
            r"deployments\[0\]\.columns\[1\]\.type",
        ),
        (
            lambda d: d["deployments"][0]["columns"][1].update(role="target"),
            r"deployments\[0\]\.columns\[1\]\.role",
        ),
        (lambda d: d["deployments"][0]["columns"][1].pop("type"), r"needs a type"),
        (lambda d: d["deployments"][0].update(start="yesterday"), r"deployments\[0\]\.start"),
        (lambda d: d["deployments"][0].update(colums=[]), r"deployments\[0\]\.colums: Extra"),
        (lambda d: d["deployments"].append(d["deployments"][0]), r"duplicate deployment ids"),
        (lambda d: d.update(defaults={"lag_minutes": 90}), r"defaults\.lag_minutes"),
        (lambda d: d["deployments"][0]["logs"].update(type="kafka"), r"deployments\[0\]\.logs"),
        (
            lambda d: d["deployments"][0].update(drift={"thresholds": {"psy": 0.2}}),
            r"deployments\[0\]\.drift\.thresholds\.psy \(the key\): .*unknown metric 'psy'",
        ),
        (
            lambda d: d["deployments"][0].update(drift={"metrics": {"nope": ["psi"]}}),
            r"drift\.metrics names column\(s\) \['nope'\] that are not monitored",
        ),
        (
            lambda d: d["deployments"][0].update(drift={"correction": "holm"}),
            r"deployments\[0\]\.drift\.correction",
        ),
    ],
)
def test_malformed_files_name_the_field(mutate, message):
    data = _valid()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_unreadable_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "monitors.yaml"
    bad.write_text("deployments: [\n  - id: x\n   oops")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


def test_unset_variable_in_a_path_is_named(tmp_path):
    data = _valid()
    data["deployments"][0]["reference"]["path"] = "${NOT_SET_ANYWHERE_42}/ref.parquet"
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE_42"):
        parse_config(data, base=tmp_path)


def test_round_trips_through_yaml(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(_valid()))
    assert load_config(path).ids == ["fraud_v2"]
