"""Deliver the outbox: claim pending rows per channel, send, record each attempt.

Slack: one message per (deployment, window, kind, channel). A claim counts an attempt and
marks the rows unconfirmed before anything is sent; a row still unconfirmed later (a
timeout, or a crash between send and record) is first looked up in the channel's history
by its dedup key, so it is recorded, not re-posted, when it already arrived. Channel ids
can be looked up; for channel names Slack offers no lookup and such a row is re-posted.
CloudWatch: windows are packed into PutMetricData calls; a crash between put and record
re-puts identical datums (same timestamp and value), which leaves Maximum unchanged.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from monitoring_pipelines.alerts.cloudwatch import (
    MAX_DATUMS_PER_CALL,
    CloudWatchTransport,
    too_old,
    window_datums,
)
from monitoring_pipelines.alerts.redact import describe
from monitoring_pipelines.alerts.slack import (
    TOKEN_ENV,
    SlackDeliveryError,
    SlackTransport,
    drift_message,
    resolved_message,
    run_failure_message,
)
from monitoring_pipelines.stats.alert_policy import DRIFT, RESOLVED
from monitoring_pipelines.store import alerts as outbox

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=10)
LOOKUP_MARGIN = timedelta(minutes=5)


@dataclass
class DeliveryReport:
    """Counts per channel of rows sent, failed (still pending) and held (no transport)."""

    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(outbox.CHANNELS, 0))
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(outbox.CHANNELS, 0))
    held: dict[str, int] = field(default_factory=lambda: dict.fromkeys(outbox.CHANNELS, 0))
    slack_messages: int = 0
    cloudwatch_calls: int = 0
    errors: list[str] = field(default_factory=list)


def message_for(rows: Sequence[Mapping[str, Any]], ui_url: str | None) -> dict:
    """The Slack message for one group of outbox rows (all of the same kind)."""
    kind = rows[0]["kind"]
    if kind == DRIFT:
        return drift_message(rows, ui_url)
    if kind == RESOLVED:
        return resolved_message(rows, ui_url)
    if kind == outbox.RUN_FAILURE:
        return run_failure_message(rows[0], ui_url)
    raise ValueError(f"no Slack message for kind {kind!r}: expected drift, resolved, run_failure")


def slack_groups(rows: Sequence[Mapping[str, Any]], default_channel: str | None) -> list[list]:
    """Rows grouped into messages: one per deployment window, kind and channel."""
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        channel = row["slack_channel"] or default_channel
        if row["kind"] == outbox.RUN_FAILURE:
            key: tuple = (row["id"],)
        else:
            key = (row["deployment_id"], row["window_start"], row["granularity"], row["kind"])
        groups[(channel, *key)].append(row)
    return list(groups.values())


def deliver_pending(
    engine: Engine,
    slack: SlackTransport | None,
    cloudwatch: CloudWatchTransport | None,
    *,
    ui_url: str | None = None,
    claim_timeout: timedelta = CLAIM_TIMEOUT,
    logger: logging.Logger | logging.LoggerAdapter = log,
    channels: Sequence[str] = outbox.CHANNELS,
) -> DeliveryReport:
    """Deliver every pending outbox row of ``channels``; failures stay pending with the error
    recorded. One channel at a time lets a job deliver each channel in its own step."""
    report = DeliveryReport()
    for channel in map(outbox.check_channel, channels):
        stale = outbox.stale_claims(engine, channel, claim_timeout)
        outbox.release(engine, [row["id"] for row in stale], channel)
    if "slack" in channels:
        _deliver_slack(engine, slack, ui_url, report, logger)
    if "cloudwatch" in channels:
        _deliver_cloudwatch(engine, cloudwatch, report, logger)
    return report


def _deliver_slack(engine, slack, ui_url, report: DeliveryReport, logger) -> None:
    rows = outbox.pending(engine, "slack")
    if not rows:
        return
    if slack is None:
        report.held["slack"] = len(rows)
        logger.warning(
            f"Slack is not configured (set {TOKEN_ENV}): {len(rows)} alert(s) logged below "
            "and kept in the outbox"
        )
        for group in slack_groups(rows, None):
            logger.info(message_for(group, ui_url)["text"])
        return
    ui_url = ui_url or slack.settings.ui_url
    for group in slack_groups(rows, slack.settings.default_channel):
        channel = group[0]["slack_channel"] or slack.settings.default_channel
        won = set(outbox.claim(engine, [row["id"] for row in group], "slack"))
        group = [row for row in group if row["id"] in won]
        if not group:
            continue
        ids = [row["id"] for row in group]
        keys = [row["dedup_key"] for row in group]
        try:
            if not channel:
                raise SlackDeliveryError(
                    f"no Slack channel for {group[0]['deployment_id']}: set slack_channel "
                    "in monitors.yaml or SLACK_CHANNEL",
                    maybe_sent=False,
                )
            ts = None
            if any(row["slack_unconfirmed"] for row in group):
                oldest = min(row["created_at"] for row in group) - LOOKUP_MARGIN
                ts = slack.find_posted(channel, keys, oldest)
            if ts is None:
                ts = slack.post(channel, message_for(group, ui_url), keys)
                report.slack_messages += 1
        except SlackDeliveryError as error:
            outbox.record_attempt(
                engine, ids, "slack", ok=False, error=str(error), unconfirmed=error.maybe_sent
            )
            report.failed["slack"] += len(ids)
            report.errors.append(str(error))
            logger.warning(f"Slack delivery of {len(ids)} alert(s) failed, kept pending: {error}")
            continue
        outbox.record_attempt(engine, ids, "slack", ok=True, slack_ts=ts)
        report.sent["slack"] += len(ids)


def _packs(rows: Sequence[Mapping[str, Any]], transport: CloudWatchTransport) -> list[tuple]:
    """Rows packed into (rows, datums) units of at most one PutMetricData call each."""
    packs: list[tuple[list, list]] = []
    for row in rows:
        datums = window_datums(
            row["deployment_id"], row["window_start"], row["cloudwatch"], transport.settings
        )
        if packs and len(packs[-1][1]) + len(datums) <= MAX_DATUMS_PER_CALL:
            packs[-1][0].append(row)
            packs[-1][1].extend(datums)
        else:
            packs.append(([row], list(datums)))
    return packs


def _deliver_cloudwatch(engine, transport, report: DeliveryReport, logger) -> None:
    rows = outbox.pending(engine, "cloudwatch")
    if not rows:
        return
    if transport is None:
        report.held["cloudwatch"] = len(rows)
        logger.warning(
            f"CloudWatch is not configured: {len(rows)} window(s) of metrics kept in the outbox"
        )
        return
    old = {row["id"] for row in rows if too_old(row["window_start"])}
    outbox.skip(engine, sorted(old), "cloudwatch", "window older than CloudWatch's 14-day limit")
    fresh = [row for row in rows if row["id"] not in old]
    won = set(outbox.claim(engine, [row["id"] for row in fresh], "cloudwatch"))
    secrets = [os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN")]
    for pack_rows, datums in _packs([row for row in fresh if row["id"] in won], transport):
        ids = [row["id"] for row in pack_rows]
        try:
            report.cloudwatch_calls += transport.put(datums)
        except Exception as error:  # botocore raises many types; all mean "not delivered yet"
            message = f"put_metric_data failed: {describe(error, secrets)}"
            outbox.record_attempt(engine, ids, "cloudwatch", ok=False, error=message)
            report.failed["cloudwatch"] += len(ids)
            report.errors.append(message)
            logger.warning(f"CloudWatch delivery of {len(ids)} window(s) failed: {message}")
            continue
        outbox.record_attempt(engine, ids, "cloudwatch", ok=True)
        report.sent["cloudwatch"] += len(ids)
