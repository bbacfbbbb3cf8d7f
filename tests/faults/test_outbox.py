"""The outbox holds only work that can be delivered, permanent errors stop with one notice and
wait for ``redeliver``, and the CLI fails with one clear line (issue 14, items 1, 7b, 13)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.evaluate import Sinks, SlackRouting, enqueue_drift
from monitoring_pipelines.cli import main
from monitoring_pipelines.stats.alert_policy import AlertSettings, DriftRecord
from monitoring_pipelines.store import alerts as outbox
from tests.alerts.conftest import CHANNEL
from tests.fakes.credentials import fake_slack_token

HOUR = timedelta(hours=1)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 6 * HOUR
SETTINGS = {"credit_risk": AlertSettings(cooldown=timedelta(0))}


def records(hours=(0, 1), column="age") -> list[DriftRecord]:
    return [
        DriftRecord("credit_risk", T0 + h * HOUR, T0 + (h + 1) * HOUR, "hour", column, "psi",
                    0.4, None, 0.25, "significant", True)
        for h in hours
    ]  # fmt: skip


@pytest.fixture
def cli_env(monkeypatch, sqlite_url, fake_slack, slack_token):
    """A function that sets what an operator's shell holds for the CLI (overrides allowed)."""

    def set_env(**overrides: str) -> None:
        env = {
            "MONITORING_DATABASE_URL": sqlite_url,
            "SLACK_BOT_TOKEN": slack_token,
            "SLACK_BASE_URL": fake_slack.url,
            "SLACK_CHANNEL": CHANNEL,
        }
        for name, value in (env | overrides).items():
            monkeypatch.setenv(name, value)

    return set_env


def kinds(engine) -> Counter:
    return Counter((r["kind"], r["slack_status"], r["cloudwatch_status"])
                   for r in outbox.list_recent(engine, 1000))  # fmt: skip


def test_without_cloudwatch_no_metrics_rows_and_without_slack_alerts_are_skipped(sqlite_engine):
    """Before: every hour added metrics rows that stayed pending forever and requested a run."""
    result = enqueue_drift(
        sqlite_engine, records(), SETTINGS, sinks=Sinks(slack=False, cloudwatch=False)
    )
    assert (result.metrics_ids, result.deliverable) == ((), 0)
    assert kinds(sqlite_engine) == Counter({("drift", "skipped", "skipped"): 2})
    assert outbox.needs_retry(sqlite_engine) is False


def test_slack_without_any_channel_skips_with_the_reason_and_requests_nothing(sqlite_engine):
    result = enqueue_drift(
        sqlite_engine, records(), SETTINGS, sinks=Sinks(slack=True, cloudwatch=False)
    )
    assert result.deliverable == 0
    reasons = {r["slack_last_error"] for r in outbox.list_recent(sqlite_engine)}
    assert reasons == {
        "no Slack channel for credit_risk: set alerts.slack_channel in monitors.yaml or "
        "SLACK_CHANNEL"
    }
    with_default = enqueue_drift(
        sqlite_engine, records((2,)), SETTINGS, sinks=Sinks(True, CHANNEL, cloudwatch=True)
    )
    assert (with_default.deliverable, len(with_default.metrics_ids)) == (2, 1)


def test_cli_lists_alerts_before_window_metrics(sqlite_url, sqlite_engine, monkeypatch, capsys):
    """Before: metrics rows dominated `monitoring-pipelines alerts`."""
    enqueue_drift(sqlite_engine, records((0,)), SETTINGS, sinks=Sinks(True, CHANNEL, True))
    enqueue_drift(sqlite_engine, records(range(1, 30), "income"), {}, sinks=Sinks(True, CHANNEL))
    monkeypatch.setenv("MONITORING_DATABASE_URL", sqlite_url)
    assert main(["alerts", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[4] for line in lines] == ["drift", "metrics", "metrics"]
    assert main(["alerts", "--kind", "metrics", "--status", "skipped"]) == 0
    assert "no alerts in the outbox" in capsys.readouterr().out


@pytest.mark.parametrize(
    "problem", ["channel_not_found", "not_in_channel", "invalid_auth", "token_revoked",
                "account_inactive"],
)  # fmt: skip
def test_permanent_errors_fail_once_with_one_notice_until_redelivered(
    problem, sqlite_engine, slack, fake_slack, cli_env, capsys
):
    """Before: channel_not_found was retried every 15 minutes forever."""
    good_token = fake_slack.token
    if problem == "channel_not_found":
        fake_slack.channels = {"C0SOMEWHERE"}
    elif problem == "not_in_channel":
        fake_slack.members_only = {CHANNEL}
    elif problem == "invalid_auth":
        fake_slack.token = fake_slack_token()  # a token the workspace no longer knows
    else:
        fake_slack.token_error = problem
    enqueue_drift(sqlite_engine, records(), SETTINGS, sinks=Sinks(True, CHANNEL, False))
    for _ in range(3):
        report = deliver_pending(sqlite_engine, slack, None)
    assert len(fake_slack.posts()) == 2  # one try per window, then never again
    assert report.count("slack", "failed") == 0 and outbox.needs_retry(sqlite_engine) is False
    rows = [r for r in outbox.list_recent(sqlite_engine) if r["kind"] == "drift"]
    assert {(r["slack_status"], r["slack_last_error"]) for r in rows} == {
        ("failed", f"chat.postMessage failed: SlackApiError: {problem} (HTTP 200)")
    }
    [notice] = [r for r in outbox.list_recent(sqlite_engine) if r["kind"] == "notice"]
    assert notice["reason"].startswith(f"Slack rejects posts to {CHANNEL}: chat.postMessage")
    assert "monitoring-pipelines redeliver --status failed" in notice["reason"]

    fake_slack.channels, fake_slack.members_only = None, set()  # the operator fixes it
    fake_slack.token, fake_slack.token_error = good_token, None
    cli_env()
    assert main(["redeliver", "--status", "failed"]) == 0
    printed = capsys.readouterr().out
    assert "slack: 2 requeued" in printed and "slack: 2 sent" in printed
    rows = [r for r in outbox.list_recent(sqlite_engine) if r["kind"] == "drift"]
    assert Counter(fake_slack.posted_keys(rows)) == Counter({r["dedup_key"]: 1 for r in rows})
    assert main(["redeliver", "--status", "failed"]) == 0
    assert "nothing to redeliver" in capsys.readouterr().out


def test_redeliver_skipped_rows_by_id_and_deployment_after_configuring_slack(
    sqlite_engine, fake_slack, cli_env, capsys
):
    enqueue_drift(sqlite_engine, records((0, 1, 2)), SETTINGS, sinks=Sinks(False, None, False))
    first = min(r["id"] for r in outbox.list_recent(sqlite_engine))
    cli_env()
    assert main(["redeliver", "--id", str(first), "--status", "skipped", "--no-send"]) == 0
    assert "not sent (--no-send)" in capsys.readouterr().out
    assert fake_slack.messages == []
    assert main(["redeliver", "--deployment", "credit_risk", "--status", "skipped"]) == 0
    assert main(["redeliver", "--id", str(first)]) == 0  # pending now, not failed: unchosen
    assert len(fake_slack.messages) == 2  # the two still skipped; the requeued one waits
    deliver_pending(sqlite_engine, None, None)
    assert main(["redeliver", "--id", str(first), "--status", "pending"]) == 0
    assert len(fake_slack.messages) == 3


def test_redeliver_never_resends_an_unconfirmed_post_unless_told(
    sqlite_engine, slack, fake_slack, cli_env, capsys
):
    routing = {"credit_risk": SlackRouting("#by-name")}  # a name: no lookup is possible
    enqueue_drift(sqlite_engine, records((0,)), SETTINGS, routing, sinks=Sinks(True, None, False))
    fake_slack.script_for("chat.postMessage", "accept_then_drop")
    deliver_pending(sqlite_engine, slack, None)
    cli_env(SLACK_CHANNEL="", SLACK_LOOKUP_SETTLE_SECONDS="0")
    assert main(["redeliver", "--status", "unconfirmed"]) == 1  # still cannot be looked up
    assert "1 unconfirmed" in capsys.readouterr().out
    assert len(fake_slack.messages) == 1
    assert main(["redeliver", "--status", "unconfirmed", "--resend-unconfirmed"]) == 0
    assert len(fake_slack.messages) == 2  # the operator chose to post it again


def test_cli_failures_print_one_clear_line_and_debug_shows_the_traceback(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MONITORING_DATABASE_CONNECT_ATTEMPTS", "1")
    monkeypatch.setenv("MONITORING_DATABASE_URL", "postgresql://svc:p%40ss@127.0.0.1:1/x")
    assert main(["alerts"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("monitoring-pipelines: error: DatabaseUnreachable: cannot connect")
    assert "postgresql://svc:***@127.0.0.1:1/x" in err
    assert "Traceback" not in err and "p%40ss" not in err
    assert err.endswith("(run with --debug for the traceback)\n")
    monkeypatch.setenv("MONITORING_DATABASE_URL", "postgresql://svc:p@ss@127.0.0.1:1/x")
    assert main(["alerts"]) == 2  # the parser would read host "ss@127.0.0.1": refused at once
    err = capsys.readouterr().err
    assert "unescaped '@' in its user or password: write it as %40" in err
    assert "ss@" not in err and "p@" not in err
    monkeypatch.setenv("MONITORS_CONFIG", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("MONITORING_DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    assert main(["redeliver"]) == 2
    assert "give --id, --deployment or --status" in capsys.readouterr().err
    with pytest.raises(ValueError, match="choose rows to redeliver"):
        main(["redeliver", "--debug"])
    with pytest.raises(SystemExit) as usage:
        main(["redeliver", "--status", "lost"])
    assert usage.value.code == 2
