"""Values from traffic cannot ping a channel or plant a link (issue 11, item 5): a category
named ``<!channel>`` floods one hour's logs, and the whole path runs for real (Parquet logs →
hourly_aggregates → drift_scores → drift sensor → outbox → alert job → local Slack)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from monitoring_pipelines.config import load_config
from monitoring_pipelines.defs.alerting import ALERT_JOB
from monitoring_pipelines.defs.build import build_definitions
from monitoring_pipelines.defs.jobs import BASELINE_JOB, HOURLY_JOB
from monitoring_pipelines.defs.partitions import hour_key
from monitoring_pipelines.defs.sensors.drift_threshold import SENSOR_NAME

HOUR = datetime(2026, 11, 3, 12, tzinfo=UTC)
PING, LINK = "<!channel>", "<https://evil.test|click here>"


def _frame(rng: np.random.Generator, n: int, segments: list[str], p: list[float]):
    return pd.DataFrame(
        {"amount": rng.lognormal(3, 0.5, n), "segment": rng.choice(segments, n, p=p)}
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as fresh:  # also makes it the current one for definitions loads
        yield fresh


def test_a_hostile_category_reaches_slack_as_text(
    tmp_path, monkeypatch, fake_slack, slack_token, instance
):
    rng = np.random.default_rng(5)
    (tmp_path / "data").mkdir()
    _frame(rng, 4000, ["retail", "sme"], [0.7, 0.3]).to_parquet(tmp_path / "data/ref.parquet")
    hour = _frame(rng, 900, ["retail", PING, LINK], [0.2, 0.4, 0.4])
    hour["scored_at"] = HOUR + pd.to_timedelta(rng.uniform(0, 3599, len(hour)), unit="s")
    folder = tmp_path / "data/logs" / f"date={HOUR:%Y-%m-%d}" / f"hour={HOUR:%H}"
    folder.mkdir(parents=True)
    hour.to_parquet(folder / "part-00000.parquet")
    config = {
        "defaults": {"n_bins": 10},
        "deployments": [
            {
                "id": "hostile_model",
                "reference": {"path": "data/ref.parquet"},
                "logs": {"type": "parquet", "path": "data/logs", "timestamp_column": "scored_at"},
                "start": (HOUR - timedelta(hours=1)).isoformat(),
                "columns": [
                    {"name": "scored_at", "role": "timestamp"},
                    {"name": "amount", "type": "numerical"},
                    {"name": "segment", "type": "categorical"},
                ],
                "alerts": {"slack_channel": "C0HOSTILE1"},
            }
        ],
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    for name, value in {
        "MONITORING_DATABASE_URL": f"sqlite:///{tmp_path / 'monitoring.db'}",
        "MONITORS_CONFIG": str(path),
        "SLACK_BOT_TOKEN": slack_token,
        "SLACK_BASE_URL": fake_slack.url,
        "DAGSTER_UI_URL": "http://dagster.test:3000",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CLOUDWATCH_NAMESPACE", raising=False)

    defs = build_definitions(load_config(path), str(path))
    run = {"instance": instance}
    assert (
        defs.resolve_job_def(BASELINE_JOB)
        .execute_in_process(partition_key="hostile_model", **run)
        .success
    )
    assert (
        defs.resolve_job_def(HOURLY_JOB)
        .execute_in_process(partition_key=str(hour_key("hostile_model", HOUR)), **run)
        .success
    )
    with dg.build_sensor_context(resources=defs.resources, **run) as context:
        tick = defs.resolve_sensor_def(SENSOR_NAME)(context)
    assert len(tick.run_requests) == 1
    assert defs.resolve_job_def(ALERT_JOB).execute_in_process(**run).success

    [message] = fake_slack.messages
    assert message["channel"] == "C0HOSTILE1"
    body = fake_slack.posts()[0].body
    sent = [body["text"], *(str(block) for block in body["blocks"])]
    assert all(PING not in text and LINK not in text for text in sent)
    lines = next(b["text"]["text"] for b in body["blocks"] if "segment*" in str(b.get("text")))
    assert "new `&lt;!channel&gt;` 0.0% → " in lines
    assert "new `&lt;https://evil.test|click here&gt;` 0.0% → " in lines
