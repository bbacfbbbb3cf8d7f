"""retraining_sensor on real stored performance: a rule triggers one run tagged with its
reasons, recorded once in the outbox; the cooldown holds a second; dry run requests nothing;
the job calls the configured callable or the webhook (retried)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest
import yaml
from sqlalchemy import select

from monitoring_pipelines.defs.alert_resources import alert_resources
from monitoring_pipelines.defs.resources import MonitorsResource, StoreResource
from monitoring_pipelines.defs.retraining import retraining_job, retraining_sensor
from monitoring_pipelines.stats.latency_sketch import LatencySketch
from monitoring_pipelines.stats.performance import Performance
from monitoring_pipelines.store.engine import get_engine
from monitoring_pipelines.store.performance import write_performance
from monitoring_pipelines.store.schema import alerts
from tests.fakes.credentials import fake_secret, fake_slack_token

T0 = datetime(2026, 11, 5, 8, tzinfo=UTC)
H = timedelta(hours=1)
CALLS: list[dict] = []


def record_call(deployment_id: str, reasons: list[str]) -> dict:
    """The test's retraining callable."""
    CALLS.append({"deployment_id": deployment_id, "reasons": reasons})
    return {"model_version": len(CALLS)}


def write_config(tmp_path, retraining: dict) -> str:
    deployment = {
        "id": "fraud",
        "reference": {"path": "ref.parquet"},
        "logs": {"type": "parquet", "path": "logs", "timestamp_column": "ts"},
        "start": "2026-11-01T00:00:00Z",
        "columns": [{"name": "ts", "role": "timestamp"}, {"name": "x", "type": "numerical"}],
        "retraining": retraining,
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump({"deployments": [deployment]}))
    return str(path)


def hour(engine, start: datetime, accuracy: float, labelled: int = 400) -> None:
    performance = Performance("binary", "ok", 1000, labelled, {"accuracy": accuracy})
    write_performance(engine, "fraud", start, start + H, performance, LatencySketch(), start)


def tick(url: str, config: str, cursor: str | None, env: dict | None = None):
    resources = {
        "store": StoreResource(database_url=url),
        "monitors": MonitorsResource(path=config),
        **alert_resources(env or {}),
    }
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        return retraining_sensor(context)


def retraining_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(alerts).where(alerts.c.kind == "retraining")).all()


RULES = {"accuracy_floor": 0.7, "cooldown_hours": 24, "callable": f"{__name__}:record_call"}


def test_a_drop_requests_one_run_then_the_cooldown_holds(tmp_path, sqlite_url):
    engine = get_engine(sqlite_url)
    config = write_config(tmp_path, RULES)
    hour(engine, T0, 0.9)
    healthy = tick(sqlite_url, config, None)
    assert healthy.run_requests == [] and retraining_rows(engine) == []
    hour(engine, T0 + H, 0.61)
    result = tick(sqlite_url, config, healthy.cursor)
    (request,) = result.run_requests
    reasons = request.tags["monitoring/retraining_reasons"]
    assert reasons == "accuracy 0.61 below floor 0.7"
    assert request.run_config["ops"]["retrain"]["config"]["deployment_id"] == "fraud"
    (row,) = retraining_rows(engine)
    assert row.reason == reasons and row.payload["dry_run"] is False
    hour(engine, T0 + 2 * H, 0.55)
    later = tick(sqlite_url, config, result.cursor)
    assert later.run_requests == [] and len(retraining_rows(engine)) == 1  # cooldown
    assert tick(sqlite_url, config, later.cursor).skip_reason  # nothing new


def test_the_floor_judges_the_latest_hour_with_enough_labels(tmp_path, sqlite_url):
    """Labels arrive late: the newest hour's accuracy on 20 labels is noise, not a drop."""
    engine = get_engine(sqlite_url)
    config = write_config(tmp_path, {**RULES, "min_labelled_rows": 100})
    hour(engine, T0, 0.9)
    hour(engine, T0 + H, 0.5, labelled=20)
    assert tick(sqlite_url, config, None).run_requests == []
    hour(engine, T0 + H, 0.6, labelled=300)  # more labels arrived: the drop is real
    (request,) = tick(sqlite_url, config, None).run_requests
    assert request.tags["monitoring/retraining_reasons"] == "accuracy 0.6 below floor 0.7"


def test_with_slack_the_decision_is_delivered_by_the_alert_job(tmp_path, sqlite_url, monkeypatch):
    engine = get_engine(sqlite_url)
    config = write_config(tmp_path, {**RULES, "dry_run": True})
    env = {"SLACK_BOT_TOKEN": fake_slack_token(), "SLACK_CHANNEL": "C0MODELS1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hour(engine, T0, 0.5)
    result = tick(sqlite_url, config, None, env)
    (request,) = result.run_requests  # dry run: no retraining run, only the delivery
    assert request.job_name == "alert_delivery_job"
    (row,) = retraining_rows(engine)
    assert (row.slack_status, row.slack_channel) == ("pending", None)


def test_dry_run_records_the_decision_and_requests_no_run(tmp_path, sqlite_url):
    engine = get_engine(sqlite_url)
    config = write_config(tmp_path, {"accuracy_floor": 0.7, "dry_run": True})
    hour(engine, T0, 0.5)
    assert tick(sqlite_url, config, None).run_requests == []
    (row,) = retraining_rows(engine)
    assert row.payload["dry_run"] is True and "below floor" in row.reason


def test_the_job_calls_the_configured_callable(tmp_path):
    CALLS.clear()
    config = write_config(tmp_path, RULES)
    result = retraining_job.execute_in_process(
        run_config={"ops": {"retrain": {"config": {"deployment_id": "fraud", "reasons": ["r"]}}}},
        resources={"monitors": MonitorsResource(path=config)},
    )
    assert result.success and CALLS == [{"deployment_id": "fraud", "reasons": ["r"]}]
    assert result.output_for_node("retrain")["answer"] == {"model_version": 1}


def test_the_webhook_is_retried_and_its_answer_recorded(tmp_path, monkeypatch):
    hook_token = fake_secret("hook")
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(503 if len(seen) == 1 else 200)
            self.end_headers()
            self.wfile.write(b'{"job": "queued"}')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "RETRAIN_HOOK", f"http://127.0.0.1:{server.server_port}/retrain?token={hook_token}"
    )
    config = write_config(tmp_path, {"accuracy_floor": 0.7, "webhook_url_env": "RETRAIN_HOOK"})
    run_config = {"ops": {"retrain": {"config": {"deployment_id": "fraud", "reasons": ["why"]}}}}
    try:
        result = retraining_job.execute_in_process(
            run_config=run_config, resources={"monitors": MonitorsResource(path=config)}
        )
        assert result.success and len(seen) == 2 and seen[1]["reasons"] == ["why"]
        assert result.output_for_node("retrain") == {
            "webhook_status": 200,
            "answer": '{"job": "queued"}',
        }
    finally:
        server.shutdown()
    # nothing listens on port 9
    monkeypatch.setenv("RETRAIN_HOOK", f"http://127.0.0.1:9/retrain?token={hook_token}")
    with pytest.raises(Exception, match="retraining webhook failed") as failure:
        retraining_job.execute_in_process(
            run_config=run_config, resources={"monitors": MonitorsResource(path=config)}
        )
    assert hook_token not in str(failure.value)
