"""The alert outbox: enqueue once per dedup key, claim, record each delivery's outcome.

Every alert is written here before anything is sent, so nothing is lost when Slack or AWS
is down; the unique ``dedup_key`` (INSERT ... ON CONFLICT DO NOTHING) means an alert is
never enqueued twice. Each channel has its own status:

- ``pending``: to be sent; ``sending``: claimed by a delivery now (attempts counted);
- ``unconfirmed`` (Slack): a post whose outcome is unknown (timeout, dropped connection,
  5xx, or a delivery that died mid-way); it is never posted again until a lookup of the
  channel proves it absent (→ ``pending``) or present (→ ``sent``);
- ``sent``; ``failed``: a permanent error (e.g. ``channel_not_found``), kept with its
  reason until ``monitoring-pipelines redeliver``; ``skipped``: not for this channel, or
  the channel is not configured (the reason is in ``<channel>_last_error``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from monitoring_pipelines.stats.alert_policy import DRIFT, RESOLVED, Alert, LastAlert, history_key
from monitoring_pipelines.stats.no_data_policy import QuietHour
from monitoring_pipelines.stats.performance_alerts import LastPerformanceAlert, PerformanceAlert
from monitoring_pipelines.stats.references import TRAINING
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store.aggregates import utc
from monitoring_pipelines.store.schema import alerts, model_performance

CHANNELS = ("slack", "cloudwatch")
PENDING, SENDING, UNCONFIRMED = "pending", "sending", "unconfirmed"
SENT, FAILED, SKIPPED = "sent", "failed", "skipped"
STATUSES = (PENDING, SENDING, UNCONFIRMED, SENT, FAILED, SKIPPED)
METRICS = "metrics"
RUN_FAILURE = "run_failure"
NOTICE = "notice"
NO_DATA = "no_data"
PERFORMANCE = "performance"
RETRAINING = "retraining"
KINDS = (DRIFT, RESOLVED, NO_DATA, RUN_FAILURE, NOTICE, METRICS, PERFORMANCE, RETRAINING)
EXACTLY_ONCE, AT_MOST_ONCE, AT_LEAST_ONCE = "exactly_once", "at_most_once", "at_least_once"
ALL_DEPLOYMENTS = "all"
MAX_ERROR_CHARS = 1000
NOTICE_SKIP = "an operator notice: run log and `monitoring-pipelines alerts` only"


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: choose one of {', '.join(CHANNELS)}")
    return channel


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}: choose one of {', '.join(STATUSES)}")
    return status


def _slack(skip_reason: str | None) -> dict[str, Any]:
    """Slack columns of a new row: pending, or skipped at once with the reason."""
    if skip_reason is None:
        return {"slack_status": PENDING}
    return {"slack_status": SKIPPED, "slack_last_error": skip_reason[:MAX_ERROR_CHARS]}


def alert_entry(
    alert: Alert,
    slack_channel: str | None = None,
    payload: Mapping[str, Any] | None = None,
    slack_skip: str | None = None,
) -> dict[str, Any]:
    """An outbox row for a drift or resolved alert (Slack only); ``slack_skip`` says why
    Slack cannot deliver it (not configured, no channel): the row is then ``skipped``."""
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
        "reference": alert.reference,
        "segment": alert.segment,
        "value": alert.value,
        "p_value": alert.p_value,
        "threshold": alert.threshold,
        "status": alert.status,
        "reason": alert.reason,
        "payload": dict(payload) if payload else None,
        "slack_channel": slack_channel,
        **_slack(slack_skip),
        "cloudwatch_status": SKIPPED,
    }


def no_data_entry(
    hour: QuietHour, slack_channel: str | None = None, slack_skip: str | None = None
) -> dict[str, Any]:
    """An outbox row for a quiet hour (Slack only): its status, rows and the usual rows."""
    freshness = hour.freshness
    return {
        "dedup_key": hour.dedup_key,
        "deployment_id": hour.deployment_id,
        "kind": NO_DATA,
        "severity": hour.severity,
        "window_start": utc(hour.window_start),
        "window_end": utc(hour.window_end),
        "granularity": "hour",
        "value": float(freshness.rows),
        "threshold": freshness.expected_rows,
        "status": freshness.status,
        "reason": freshness.reason,
        "slack_channel": slack_channel,
        **_slack(slack_skip),
        "cloudwatch_status": SKIPPED,
    }


def last_no_data(engine: Engine, deployment_ids: Iterable[str]) -> dict[str, datetime]:
    """The window start of each deployment's latest ``no_data`` alert (cooldown history)."""
    query = (
        select(alerts.c.deployment_id, func.max(alerts.c.window_start))
        .where(alerts.c.kind == NO_DATA, alerts.c.deployment_id.in_(list(deployment_ids)))
        .group_by(alerts.c.deployment_id)
    )
    with engine.connect() as conn:
        return {deployment: utc(start) for deployment, start in conn.execute(query)}


def metrics_entry(
    deployment_id: str,
    window_start: datetime,
    window_end: datetime,
    granularity: str,
    scores: Sequence[Mapping[str, Any]],
    rows_scored: int | None,
    freshness: str | None = None,
) -> dict[str, Any]:
    """An outbox row with one window's CloudWatch metrics.

    ``scores`` are drift results (column_name, metric, reference, segment, value, drifted);
    Slack skips it.
    ``rows_scored`` None (unknown) leaves the ``rows_scored`` metric out; ``freshness``
    (an hour's status) adds the ``no_data`` metric.
    """
    keep = ("column_name", "metric", "reference", "segment", "value", "drifted")
    absent = {"reference": TRAINING, "segment": ALL}
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
            "scores": [{k: score.get(k, absent.get(k)) for k in keep} for score in scores],
            **({"freshness": freshness} if freshness is not None else {}),
        },
        "slack_status": SKIPPED,
        "cloudwatch_status": PENDING,
    }


def performance_entry(
    alert: PerformanceAlert,
    slack_channel: str | None = None,
    payload: Mapping[str, Any] | None = None,
    slack_skip: str | None = None,
) -> dict[str, Any]:
    """An outbox row for a window whose performance crossed a rule (Slack only), once per
    window, metric, severity and segment (a segment's key ends with ``|region=eu``); the
    population's payload lists the segments folded into it (``also_breaching``)."""
    start = utc(alert.window_start)
    segment = "" if alert.segment == ALL else f"|{alert.segment}"
    also = [
        {"segment": b.segment, "value": b.value, "severity": b.severity}
        for b in alert.also_breaching
    ]
    payload = {**(payload or {}), **({"also_breaching": also} if also else {})}
    return {
        "dedup_key": f"{PERFORMANCE}|{alert.deployment_id}|hour|{start.isoformat()}|"
        f"{alert.metric}|{alert.severity}{segment}",
        "segment": alert.segment,
        "deployment_id": alert.deployment_id,
        "kind": PERFORMANCE,
        "severity": alert.severity,
        "window_start": start,
        "window_end": utc(alert.window_end),
        "granularity": "hour",
        "metric": alert.metric,
        "value": alert.value,
        "threshold": alert.threshold,
        "status": "degraded",
        "reason": alert.reason[:MAX_ERROR_CHARS],
        "payload": dict(payload) if payload else None,
        "slack_channel": slack_channel,
        **_slack(slack_skip),
        "cloudwatch_status": SKIPPED,
    }


def last_performance(engine: Engine, deployment_ids: Iterable[str]) -> list[LastPerformanceAlert]:
    """Each deployment's, segment's and metric's latest performance alert (the cooldown
    history)."""
    columns = (alerts.c.deployment_id, alerts.c.metric, alerts.c.severity, alerts.c.window_start)
    query = (
        select(*columns, alerts.c.segment)
        .where(alerts.c.kind == PERFORMANCE, alerts.c.deployment_id.in_(list(deployment_ids)))
        .order_by(alerts.c.window_start, alerts.c.id)
    )
    last: dict[tuple[str, str, str], LastPerformanceAlert] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            segment = row.segment or ALL
            last[(row.deployment_id, segment, row.metric)] = LastPerformanceAlert(
                row.deployment_id, row.metric, row.severity, utc(row.window_start), segment
            )
    return list(last.values())


def performance_metrics_entries(
    deployment_id: str,
    window_start: datetime,
    window_end: datetime,
    performance: Mapping[str, float],
    final: bool,
    segments: Mapping[str, Mapping[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows with one hour's performance datums for CloudWatch, each sent once per
    hour, since ``PutMetricData`` never replaces a datum (CloudWatch would aggregate every
    send of a timestamp): the ``estimated_*`` datums at the hour's first computation (key
    ``...|performance|estimated``), the realized ones (accuracy or RMSE, latency p95,
    labelled rows) only when the hour's labels are ``final`` (key ``...|performance|final``);
    recomputations enqueue the same keys, which the outbox skips. ``segments`` (segment →
    its realized values) go with the final row, sent with the Segment dimension."""
    start = utc(window_start)
    estimated = {k: float(v) for k, v in performance.items() if k.startswith("estimated_")}
    realized = {k: float(v) for k, v in performance.items() if k not in estimated}
    parts = [("estimated", estimated)] + ([("final", realized)] if final else [])
    return [
        {
            "dedup_key": f"{deployment_id}|hour|{start.isoformat()}|{METRICS}|performance|{part}",
            "deployment_id": deployment_id,
            "kind": METRICS,
            "severity": "info",
            "window_start": start,
            "window_end": utc(window_end),
            "granularity": "hour",
            "cloudwatch": {"performance": values}
            | ({"segments": _segment_values(segments)} if part == "final" and segments else {}),
            "slack_status": SKIPPED,
            "cloudwatch_status": PENDING,
        }
        for part, values in parts
        if values
    ]


def _segment_values(segments: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {s: {k: float(v) for k, v in values.items()} for s, values in sorted(segments.items())}


def retraining_entries(
    deployment_id: str,
    window_start: datetime,
    reasons: Sequence[str],
    dry_run: bool,
    slack_channel: str | None = None,
    *,
    slack_skip: str | None = None,
    cloudwatch: bool = True,
) -> list[dict[str, Any]]:
    """A decision to retrain: the Slack row (kind ``retraining``, reasons in ``reason`` and
    ``payload``) and, when CloudWatch is on, a metrics row with ``retraining_requested`` = 1."""
    start = utc(window_start)
    key = f"{RETRAINING}|{deployment_id}|{start.isoformat()}"
    entries = [
        {
            "dedup_key": key,
            "deployment_id": deployment_id,
            "kind": RETRAINING,
            "severity": "warning",
            "window_start": start,
            "window_end": start + timedelta(hours=1),
            "granularity": "hour",
            "reason": "; ".join(reasons)[:MAX_ERROR_CHARS],
            "payload": {"reasons": list(reasons), "dry_run": dry_run},
            "slack_channel": slack_channel,
            **_slack(slack_skip),
            "cloudwatch_status": SKIPPED,
        }
    ]
    if cloudwatch:
        entries.append(
            {
                "dedup_key": f"{key}|{METRICS}",
                "deployment_id": deployment_id,
                "kind": METRICS,
                "severity": "info",
                "window_start": start,
                "window_end": start + timedelta(hours=1),
                "granularity": "hour",
                "cloudwatch": {"retraining_requested": 1.0},
                "slack_status": SKIPPED,
                "cloudwatch_status": PENDING,
            }
        )
    return entries


def run_failure_entry(
    deployment_id: str,
    run_id: str,
    job_name: str,
    error: str,
    slack_channel: str | None = None,
    *,
    partition: str | None = None,
    slack_skip: str | None = None,
) -> dict[str, Any]:
    """An outbox row for a failed run (Slack only), keyed by the run id."""
    return {
        "dedup_key": f"{RUN_FAILURE}|{run_id}",
        "deployment_id": deployment_id,
        "kind": RUN_FAILURE,
        "severity": "critical",
        "reason": error[:MAX_ERROR_CHARS],
        "payload": {"run_id": run_id, "job_name": job_name, "partition": partition},
        "slack_channel": slack_channel,
        **_slack(slack_skip),
        "cloudwatch_status": SKIPPED,
    }


def notice_entry(key: str, text: str, deployment_id: str = ALL_DEPLOYMENTS) -> dict[str, Any]:
    """A notice for the operator (e.g. "the duplicate check is impossible"), kept once per
    ``key`` so it is said once, and never sent anywhere."""
    return {
        "dedup_key": f"{NOTICE}|{key}",
        "deployment_id": deployment_id,
        "kind": NOTICE,
        "severity": "warning",
        "reason": text[:MAX_ERROR_CHARS],
        "slack_status": SKIPPED,
        "slack_last_error": NOTICE_SKIP,
        "cloudwatch_status": SKIPPED,
        "cloudwatch_last_error": NOTICE_SKIP,
    }


_EMPTY_ROW: dict[str, Any] = dict.fromkeys(c.name for c in alerts.columns if c.nullable) | {
    "slack_status": PENDING,
    "slack_attempts": 0,
    "slack_unconfirmed": False,
    "cloudwatch_status": PENDING,
    "cloudwatch_attempts": 0,
    "segment": ALL,  # the population: every kind but a segment's drift and resolved alerts
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


def _fetch(engine: Engine, query) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query).mappings()]


def with_status(
    engine: Engine,
    channel: str,
    statuses: Sequence[str] = (PENDING,),
    ids: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """Rows whose ``channel`` status is one of ``statuses`` (optionally only ``ids``), oldest
    first."""
    status, _, _ = _columns(channel)
    query = select(alerts).where(status.in_([check_status(s) for s in statuses]))
    if ids is not None:
        query = query.where(alerts.c.id.in_(list(ids)))
    return _fetch(engine, query.order_by(alerts.c.id))


def pending(engine: Engine, channel: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows waiting for ``channel``, oldest first."""
    status, _, _ = _columns(channel)
    query = select(alerts).where(status == PENDING).order_by(alerts.c.id).limit(limit)
    return _fetch(engine, query)


def claim(
    engine: Engine,
    alert_ids: Iterable[int],
    channel: str,
    from_status: str = PENDING,
    guarantee: str | None = None,
    slack_channel: str | None = None,
) -> list[int]:
    """Start an attempt: ``from_status`` → sending. Returns the ids this caller won.

    Claiming a pending row counts a send attempt and, for Slack, records the delivery
    ``guarantee`` and the channel posted to (so a later lookup searches where it went);
    claiming an unconfirmed one starts a lookup and counts nothing. Either way the claim
    time is set, so no other delivery takes the row as stale meanwhile.
    """
    status, attempts, claimed_at = _columns(channel)
    values: dict[Any, Any] = {status: SENDING, claimed_at: datetime.now(UTC)}
    if from_status == PENDING:
        values[attempts] = attempts + 1
        if channel == "slack" and guarantee is not None:
            values[alerts.c.slack_guarantee] = guarantee
        if channel == "slack" and slack_channel is not None:
            values[alerts.c.slack_channel] = slack_channel
    won = []
    with engine.begin() as conn:
        for alert_id in alert_ids:
            result = conn.execute(
                update(alerts).where(alerts.c.id == alert_id, status == from_status).values(values)
            )
            if result.rowcount:
                won.append(alert_id)
    return won


def mark(engine: Engine, alert_ids: Iterable[int], marker: str) -> None:
    """Record the marker of the Slack message the claimed rows are about to be posted in
    (before the post, so a lookup after any outcome knows what to search for)."""
    with engine.begin() as conn:
        conn.execute(
            update(alerts)
            .where(alerts.c.id.in_(list(alert_ids)), alerts.c.slack_status == SENDING)
            .values({alerts.c.slack_marker: marker})
        )


def stale_claims(engine: Engine, channel: str, older_than: timedelta) -> list[dict[str, Any]]:
    """Rows left in ``sending`` longer than ``older_than`` (a delivery died mid-way)."""
    status, _, claimed_at = _columns(channel)
    cutoff = datetime.now(UTC) - older_than
    query = select(alerts).where(status == SENDING, claimed_at <= cutoff).order_by(alerts.c.id)
    return _fetch(engine, query)


def release(engine: Engine, alert_ids: Iterable[int], channel: str, to_status: str) -> None:
    """Put rows still ``sending`` back to ``to_status`` (pending, or unconfirmed when a post
    may have left)."""
    status, _, _ = _columns(channel)
    values: dict[Any, Any] = {status: check_status(to_status)}
    if channel == "slack" and to_status == UNCONFIRMED:
        values[alerts.c.slack_unconfirmed] = True
    with engine.begin() as conn:
        for alert_id in alert_ids:
            conn.execute(
                update(alerts).where(alerts.c.id == alert_id, status == SENDING).values(values)
            )


def skip(engine: Engine, alert_ids: Iterable[int], channel: str, reason: str) -> None:
    """Give up on rows for ``channel`` for good (e.g. too old for CloudWatch), saying why."""
    record(engine, alert_ids, channel, SKIPPED, error=reason, held=False)


def record(
    engine: Engine,
    alert_ids: int | Iterable[int],
    channel: str,
    status: str,
    *,
    error: str | None = None,
    slack_ts: str | None = None,
    guarantee: str | None = None,
    held: bool = True,
) -> None:
    """Record where rows stand for ``channel``: ``sent`` (with the Slack ts), or ``pending``,
    ``unconfirmed``, ``failed``, ``skipped`` with the error or reason.

    ``held``: only rows still ``sending`` (claimed by this caller) change, so a delivery
    whose claim was taken over as stale cannot overwrite what the other one recorded.
    """
    status_column, _, _ = _columns(channel)
    ids = [alert_ids] if isinstance(alert_ids, int) else list(alert_ids)
    values: dict[Any, Any] = {
        status_column: check_status(status),
        alerts.c[f"{channel}_last_error"]: None if error is None else error[:MAX_ERROR_CHARS],
    }
    if status == SENT:
        values[alerts.c[f"{channel}_sent_at"]] = datetime.now(UTC)
    if channel == "slack":
        if slack_ts is not None:
            values[alerts.c.slack_ts] = slack_ts
        if guarantee is not None:
            values[alerts.c.slack_guarantee] = guarantee
        if status == UNCONFIRMED:
            values[alerts.c.slack_unconfirmed] = True
    guard = status_column == SENDING if held else true()
    with engine.begin() as conn:
        for one in ids:
            conn.execute(update(alerts).where(alerts.c.id == one, guard).values(values))


def record_attempt(
    engine: Engine, alert_id: int | Iterable[int], channel: str, ok: bool, error: str | None = None
) -> None:
    """Record a claimed attempt as sent, or pending again with the error."""
    record(engine, alert_id, channel, SENT if ok else PENDING, error=None if ok else error)


def needs_retry(engine: Engine, channels: Sequence[str] = CHANNELS) -> bool:
    """Whether a retry run has work in ``channels`` (those configured now): a pending row
    that already failed an attempt, or a Slack post whose outcome is still unconfirmed (it
    needs a lookup)."""
    retrying = [
        and_(alerts.c[f"{channel}_status"] == PENDING, alerts.c[f"{channel}_attempts"] > 0)
        for channel in map(check_channel, channels)
    ]
    if "slack" in channels:
        retrying.append(alerts.c.slack_status == UNCONFIRMED)
    if not retrying:
        return False
    query = select(alerts.c.id).limit(1).where(or_(*retrying))
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def requeue(
    engine: Engine, alert_ids: Iterable[int], channel: str, *, resend_unconfirmed: bool = False
) -> dict[str, list[int]]:
    """``failed`` and ``skipped`` rows back to ``pending`` for another try (redeliver).

    ``unconfirmed`` rows stay unconfirmed (their next delivery looks them up first) unless
    ``resend_unconfirmed``: the operator checked the channel and wants them posted again.
    Notices are never requeued. Returns the ids per outcome (``requeued``, ``kept``).
    """
    status, _, _ = _columns(channel)
    movable = [FAILED, SKIPPED] + ([UNCONFIRMED] if resend_unconfirmed else [])
    condition = and_(status.in_(movable), alerts.c.kind != NOTICE)
    if channel == "cloudwatch":
        condition = and_(condition, alerts.c.kind == METRICS)
    else:
        condition = and_(condition, alerts.c.kind != METRICS)
    ids = list(alert_ids)
    with engine.begin() as conn:
        moved = conn.execute(
            update(alerts)
            .where(alerts.c.id.in_(ids), condition)
            .values({status: PENDING})
            .returning(alerts.c.id)
        )
        requeued = sorted(moved.scalars().all())
    return {"requeued": requeued, "kept": sorted(set(ids) - set(requeued))}


def select_rows(
    engine: Engine,
    *,
    ids: Sequence[int] | None = None,
    deployment_id: str | None = None,
    statuses: Sequence[str] | None = None,
    channel: str | None = None,
    kinds: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows chosen by id, deployment, kind and status (in ``channel``, or in the row's own
    channel), alerts before window metrics and newest first: what the CLI lists and
    redelivers."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    query = select(alerts)
    if ids:
        query = query.where(alerts.c.id.in_(list(ids)))
    if deployment_id is not None:
        query = query.where(alerts.c.deployment_id == deployment_id)
    if kinds:
        query = query.where(alerts.c.kind.in_(list(kinds)))
    if statuses:
        chosen = [check_status(s) for s in statuses]
        if channel is not None:
            query = query.where(alerts.c[f"{check_channel(channel)}_status"].in_(chosen))
        else:  # the row's own channel: CloudWatch for window metrics, Slack for the rest
            query = query.where(
                or_(
                    and_(alerts.c.kind == METRICS, alerts.c.cloudwatch_status.in_(chosen)),
                    and_(alerts.c.kind != METRICS, alerts.c.slack_status.in_(chosen)),
                )
            )
    metrics_last = case((alerts.c.kind == METRICS, 1), else_=0)
    query = query.order_by(metrics_last, alerts.c.id.desc()).limit(limit)
    return _fetch(engine, query)


def list_recent(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The newest outbox rows with their delivery status, alerts before window metrics."""
    return select_rows(engine, limit=limit)


def rows_with_ts(engine: Engine, channel: str, ts: str) -> list[dict[str, Any]]:
    """The rows delivered as one Slack message (``slack_ts``), oldest first."""
    query = select(alerts).where(alerts.c.slack_ts == ts, alerts.c.slack_status == SENT)
    rows = _fetch(engine, query.order_by(alerts.c.id))
    return [r for r in rows if r["kind"] == DRIFT and (r["slack_channel"] in (None, channel))]


def alert_timeline(engine: Engine, deployment_id: str, since: datetime) -> list[dict[str, Any]]:
    """The deployment's drift and resolved rows with windows from ``since``, in window
    order: what pairs a resolved notice with the message it resolves."""
    query = (
        select(alerts)
        .where(
            alerts.c.deployment_id == deployment_id,
            alerts.c.kind.in_((DRIFT, RESOLVED)),
            alerts.c.window_start >= utc(since),
        )
        .order_by(alerts.c.window_start, alerts.c.id)
    )
    return _fetch(engine, query)


def recent_history(engine: Engine, deployment_id: str | None, since: datetime) -> list[LastAlert]:
    """The last drift/resolved alert per (deployment, column, metric, reference, segment)
    since ``since`` (rows from before references were stored are training's, before
    segments the population's)."""
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
            alerts.c.reference,
            alerts.c.segment,
        )
        .where(and_(*conditions))
        .order_by(alerts.c.window_start, alerts.c.id)
    )
    last: dict[tuple, LastAlert] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            item = LastAlert(
                row.deployment_id,
                row.column_name,
                row.metric,
                row.kind,
                row.severity,
                utc(row.window_start),
                row.reference or TRAINING,
                row.segment or ALL,
            )
            last[history_key(item)] = item
    return list(last.values())


def window_performance(
    engine: Engine,
    deployment_id: str,
    window_start: datetime,
    window_end: datetime,
    segment: str = ALL,
) -> list[dict[str, Any]]:
    """``model_performance`` rows of one window (metric, value, n_labelled, kind, details):
    realized and estimated, for messages; of the population or of ``segment``."""
    table = model_performance.c
    query = (
        select(table.metric, table.value, table.n_labelled, table.kind, table.details)
        .where(
            table.deployment_id == deployment_id,
            table.segment == segment,
            table.window_start == utc(window_start),
            table.window_end == utc(window_end),
            table.kind.in_(("realized", "estimated")),
            table.value.is_not(None),
        )
        .order_by(table.kind, table.metric)
    )
    return _fetch(engine, query)
