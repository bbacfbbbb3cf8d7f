"""monitors.yaml ``segments:``: a column, a combination, a column with a value mapping, each
with its cap and minimum rows; a bad key fails naming the field."""

from __future__ import annotations

import pytest

from monitoring_pipelines.config import ConfigError, parse_config
from monitoring_pipelines.stats.segments import SegmentKey
from tests.config.test_config import _valid


def _with_segments(segments) -> dict:
    data = _valid()
    data["deployments"][0]["columns"] += [
        {"name": "region", "type": "categorical"},
        {"name": "channel", "role": "segment"},
        {"name": "model_version", "role": "segment"},
    ]
    data["deployments"][0]["segments"] = segments
    return data


def test_the_three_forms_of_a_segment_key():
    mapping = {"2.3.1": "canary", "2.3.0": "stable"}
    config = parse_config(
        _with_segments(
            [
                "region",
                ["region", "channel"],
                {"column": "model_version", "values": mapping, "max_values": 3, "min_rows": 50},
                {"columns": ["channel"], "baseline": "population"},
            ]
        )
    )
    keys = config.deployments[0].segment_keys
    assert keys == [
        SegmentKey(("region",)),
        SegmentKey(("region", "channel")),
        SegmentKey(("model_version",), mapping, max_values=3, min_rows=50),
        SegmentKey(("channel",), baseline="population"),
    ]
    assert [k.name for k in keys[:2]] == ["region", "region,channel"]
    assert keys[1].label(("eu", "web")) == "region=eu,channel=web"
    assert keys[0].folded_label() == "region=__other__"
    # a segment-only column is read, never profiled as a feature
    assert "channel" not in config.deployments[0].monitored
    assert parse_config(_valid()).deployments[0].segment_keys == []


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        (["nope"], r"deployments\[0\]: segments\[0\] names column 'nope', which is not in columns"),
        (["region", ["ts"]], r"segments\[1\]: column 'ts' has role timestamp"),
        (["region", "region"], r"segments: duplicate segment keys \['region'\]"),
        ([{"column": "region", "max_values": 0}], r"segments\[0\]\.max_values: .*greater than 0"),
        ([{"column": "region", "min_rows": -1}], r"segments\[0\]\.min_rows"),
        ([["region", "region"]], r"segments\[0\]: duplicate columns \['region'\]"),
        ([[]], r"segments\[0\]\.columns: .*at least 1"),
        ([{"column": "region", "values": {"a": "__all__"}}], r"segments\[0\]: .*reserved"),
        (
            [{"columns": ["region", "channel"], "values": {"a": "b"}}],
            r"segments\[0\]: values \(a value mapping\) is for a single column only",
        ),
        ([{"column": "region", "baseline": "training"}], r"segments\[0\]\.baseline"),
        ([{"column": "region", "cap": 3}], r"segments\[0\]\.cap: Extra"),
        ([5], r"segments\[0\]: Input should be a valid dictionary"),
    ],
)
def test_a_bad_segment_key_names_the_field(segments, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_with_segments(segments))
