"""The alert outbox: enqueue once per dedup key, claim, record each delivery attempt.

Every alert is written here before anything is sent, so nothing is lost when Slack or AWS
is down; the unique ``dedup_key`` (INSERT ... ON CONFLICT DO NOTHING) means an alert is
never enqueued twice, and the per-channel status means it is never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitoring_pipelines.stats.alert_policy import DRIFT, RESOLVED, Alert, LastAlert
from monitoring_pipelines.store.aggregates import utc
from monitoring_pipelines.store.schema import alerts

CHANNELS = ("slack", "cloudwatch")
PENDING, SENDING, SENT, SKIPPED = "pending", "sending", "sent", "skipped"
METRICS = "metrics"
RUN_FAILURE = "run_failure"
MAX_ERROR_CHARS = 1000


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: choose one of {', '.join(CHANNELS)}")
    return channel


def alert_entry(alert: Alert, slack_channel: str | None = None) -> dict[str, Any]:
    """An outbox row for a drift or resolved alert: for Slack only."""
    return {
        "dedup_key": alert.dedup_key,
        "deployment_id": alert.deployment_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "window_start": utc(alert.window_start),
        "window_end": utc(alert.window_end),
        "granularity": alert.granularity,
        "column_name": alert.column_name,
        "metric": alert.metric,
        "value": alert.value,
        "p_value": alert.p_value,
        "threshold": alert.threshold,
        "status": alert.status,
        "reason": alert.reason,
        "slack_channel": slack_channel,
        "slack_status": PENDING,
        "cloudwatch_status": SKIPPED,
    }


def metrics_entry(
    deployment_id: str,
    window_start: datetime,
    window_end: datetime,
    granularity: str,
    scores: Sequence[Mapping[str, Any]],
    rows_scored: int | None,
) -> dict[str, Any]:
    """An outbox row with one window's CloudWatch metrics.

    ``scores`` are drift results (column_name, metric, value, drifted); Slack skips it.
    ``rows_scored`` None (unknown) leaves the ``rows_scored`` metric out.
    """
    keep = ("column_name", "metric", "value", "drifted")
    return {
        "dedup_key": f"{deployment_id}|{granularity}|{utc(window_start).isoformat()}|{METRICS}",
        "deployment_id": deployment_id,
        "kind": METRICS,
        "severity": "info",
        "window_start": utc(window_start),
        "window_end": utc(window_end),
        "granularity": granularity,
        "cloudwatch": {
            "rows_scored": None if rows_scored is None else int(rows_scored),
            "scores": [{k: score[k] for k in keep} for score in scores],
        },
        "slack_status": SKIPPED,
        "cloudwatch_status": PENDING,
    }


def run_failure_entry(
    deployment_id: str, run_id: str, job_name: str, error: str, slack_channel: str | None = None
) -> dict[str, Any]:
    """An outbox row for a failed monitoring run (Slack only), keyed by the run id."""
    return {
        "dedup_key": f"{RUN_FAILURE}|{run_id}",
        "deployment_id": deployment_id,
        "kind": RUN_FAILURE,
        "severity": "critical",
        "reason": error[:MAX_ERROR_CHARS],
        "payload": {"run_id": run_id, "job_name": job_name},
        "slack_channel": slack_channel,
        "slack_status": PENDING,
        "cloudwatch_status": SKIPPED,
    }


_EMPTY_ROW: dict[str, Any] = dict.fromkeys(c.name for c in alerts.columns if c.nullable) | {
    "slack_status": PENDING,
    "slack_attempts": 0,
    "slack_unconfirmed": False,
    "cloudwatch_status": PENDING,
    "cloudwatch_attempts": 0,
}


def _insert(engine: Engine):
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(engine.dialect.name)
    if dialect is None:
        raise ValueError(
            f"unsupported database {engine.dialect.name!r} for the outbox: use sqlite or postgresql"
        )
    return dialect.insert(alerts).on_conflict_do_nothing(index_elements=["dedup_key"])


def enqueue(engine: Engine, entries: Iterable[Mapping[str, Any]]) -> list[int]:
    """Insert outbox rows; a dedup key already present is skipped. Returns the new ids."""
    base = _EMPTY_ROW | {"created_at": datetime.now(UTC)}
    rows = [base | dict(entry) for entry in entries]
    if not rows:
        return []
    statement = _insert(engine).returning(alerts.c.id)
    with engine.begin() as conn:
        return sorted(conn.execute(statement, rows).scalars().all())


def _columns(channel: str):
    check_channel(channel)
    return (
        alerts.c[f"{channel}_status"],
        alerts.c[f"{channel}_attempts"],
        alerts.c[f"{channel}_claimed_at"],
    )


def _as_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def pending(engine: Engine, channel: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows waiting for ``channel``, oldest first."""
    status, _, _ = _columns(channel)
    query = select(alerts).where(status == PENDING).order_by(alerts.c.id).limit(limit)
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query).mappings()]


def claim(engine: Engine, alert_ids: Iterable[int], channel: str) -> list[int]:
    """Start an attempt: pending → sending, attempts + 1. Returns the ids this caller won.

    For Slack the row is also marked unconfirmed until an outcome is recorded: a later
    delivery must look the message up before posting it again.
    """
    status, attempts, claimed_at = _columns(channel)
    values = {status: SENDING, claimed_at: datetime.now(UTC), attempts: attempts + 1}
    if channel == "slack":
        values[alerts.c.slack_unconfirmed] = True
    won = []
    with engine.begin() as conn:
        for alert_id in alert_ids:
            result = conn.execute(
                update(alerts).where(alerts.c.id == alert_id, status == PENDING).values(values)
            )
            if result.rowcount:
                won.append(alert_id)
    return won


def stale_claims(engine: Engine, channel: str, older_than: timedelta) -> list[dict[str, Any]]:
    """Rows left in ``sending`` longer than ``older_than`` (a delivery crashed mid-way)."""
    status, _, claimed_at = _columns(channel)
    cutoff = datetime.now(UTC) - older_than
    query = select(alerts).where(status == SENDING, claimed_at <= cutoff).order_by(alerts.c.id)
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query).mappings()]


def release(engine: Engine, alert_ids: Iterable[int], channel: str) -> None:
    """Put claimed rows back to pending (a stale claim, or nothing was tried)."""
    status, _, _ = _columns(channel)
    with engine.begin() as conn:
        for alert_id in alert_ids:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, status == SENDING)
                .values({status: PENDING})
            )


def skip(engine: Engine, alert_ids: Iterable[int], channel: str, reason: str) -> None:
    """Give up on rows for ``channel`` for good (e.g. too old for CloudWatch), saying why."""
    status, _, _ = _columns(channel)
    with engine.begin() as conn:
        for alert_id in alert_ids:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values({status: SKIPPED, alerts.c[f"{channel}_last_error"]: reason})
            )


def record_attempt(
    engine: Engine,
    alert_id: int | Iterable[int],
    channel: str,
    ok: bool,
    error: str | None = None,
    slack_ts: str | None = None,
    unconfirmed: bool = False,
) -> None:
    """Record the outcome of an attempt (counted by :func:`claim`): sent with the Slack ts,
    or pending again with the error; ``unconfirmed`` when the post may have arrived."""
    status, _, _ = _columns(channel)
    ids = [alert_id] if isinstance(alert_id, int) else list(alert_id)
    values: dict[Any, Any] = {
        status: SENT if ok else PENDING,
        alerts.c[f"{channel}_last_error"]: None
        if ok
        else (error or "unknown error")[:MAX_ERROR_CHARS],
    }
    if ok:
        values[alerts.c[f"{channel}_sent_at"]] = datetime.now(UTC)
    if channel == "slack":
        values[alerts.c.slack_unconfirmed] = unconfirmed and not ok
        if slack_ts is not None:
            values[alerts.c.slack_ts] = slack_ts
    with engine.begin() as conn:
        for one in ids:
            conn.execute(update(alerts).where(alerts.c.id == one).values(values))


def recent_history(engine: Engine, deployment_id: str | None, since: datetime) -> list[LastAlert]:
    """The last drift/resolved alert per (deployment, column, metric) since ``since``."""
    conditions = [alerts.c.kind.in_((DRIFT, RESOLVED)), alerts.c.window_start >= utc(since)]
    if deployment_id is not None:
        conditions.append(alerts.c.deployment_id == deployment_id)
    query = (
        select(
            alerts.c.deployment_id,
            alerts.c.column_name,
            alerts.c.metric,
            alerts.c.kind,
            alerts.c.severity,
            alerts.c.window_start,
        )
        .where(and_(*conditions))
        .order_by(alerts.c.window_start, alerts.c.id)
    )
    last: dict[tuple[str, str, str], LastAlert] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            item = LastAlert(
                row.deployment_id,
                row.column_name,
                row.metric,
                row.kind,
                row.severity,
                utc(row.window_start),
            )
            last[(item.deployment_id, item.column_name, item.metric)] = item
    return list(last.values())


def list_recent(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The newest outbox rows with their delivery status, newest first (for the CLI)."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query).mappings()]
