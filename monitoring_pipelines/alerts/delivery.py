"""Deliver the outbox: each channel's pending rows, every attempt and outcome recorded.

Slack (``slack_delivery``): exactly once where the channel's history can be searched, with
unknown outcomes settled by lookup, never by a blind re-post. CloudWatch: windows are packed
into PutMetricData calls; a crash between put and record re-puts identical datums (same
timestamp and value), which leaves Maximum unchanged, so a stale CloudWatch claim is simply
pending again. A delivery that died mid-way leaves rows ``sending``: after ``claim_timeout``
a Slack one becomes ``unconfirmed`` (it may have been posted), a CloudWatch one ``pending``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
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
from monitoring_pipelines.alerts.report import DeliveryReport
from monitoring_pipelines.alerts.slack import TOKEN_ENV, SlackTransport
from monitoring_pipelines.alerts.slack_delivery import SlackDelivery
from monitoring_pipelines.store import alerts as outbox

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=10)
AFTER_A_CRASH = {"slack": outbox.UNCONFIRMED, "cloudwatch": outbox.PENDING}


def deliver_pending(
    engine: Engine,
    slack: SlackTransport | None,
    cloudwatch: CloudWatchTransport | None,
    *,
    claim_timeout: timedelta = CLAIM_TIMEOUT,
    logger: logging.Logger | logging.LoggerAdapter = log,
    channels: Sequence[str] = outbox.CHANNELS,
    ids: Sequence[int] | None = None,
) -> DeliveryReport:
    """Deliver the pending (and, for Slack, unconfirmed) rows of ``channels``, optionally
    only ``ids``; what cannot be delivered stays in the outbox with its status and error.
    One channel at a time lets a job deliver each channel in its own step."""
    report = DeliveryReport()
    for channel in map(outbox.check_channel, channels):
        stale = outbox.stale_claims(engine, channel, claim_timeout)
        outbox.release(engine, [row["id"] for row in stale], channel, AFTER_A_CRASH[channel])
    if "slack" in channels:
        _deliver_slack(engine, slack, report, logger, ids)
    if "cloudwatch" in channels:
        _deliver_cloudwatch(engine, cloudwatch, report, logger, ids)
    return report


def _deliver_slack(engine, slack, report: DeliveryReport, logger, ids) -> None:
    if slack is None:
        waiting = outbox.with_status(engine, "slack", (outbox.PENDING, outbox.UNCONFIRMED), ids)
        if waiting:
            report.add("slack", "held", len(waiting))
            logger.warning(
                f"Slack is not configured (set {TOKEN_ENV}): {len(waiting)} alert(s) kept "
                "in the outbox"
            )
        return
    SlackDelivery(engine, slack, report, logger, ids).run()


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


def _deliver_cloudwatch(engine, transport, report: DeliveryReport, logger, ids) -> None:
    rows = outbox.with_status(engine, "cloudwatch", (outbox.PENDING,), ids)
    if not rows:
        return
    if transport is None:
        report.add("cloudwatch", "held", len(rows))
        logger.warning(
            f"CloudWatch is not configured: {len(rows)} window(s) of metrics kept in the outbox"
        )
        return
    old = {row["id"] for row in rows if too_old(row["window_start"])}
    outbox.skip(engine, sorted(old), "cloudwatch", "window older than CloudWatch's 14-day limit")
    report.add("cloudwatch", "skipped", len(old))
    fresh = [row for row in rows if row["id"] not in old]
    won = set(outbox.claim(engine, [row["id"] for row in fresh], "cloudwatch"))
    secrets = [os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN")]
    for pack_rows, datums in _packs([row for row in fresh if row["id"] in won], transport):
        pack_ids = [row["id"] for row in pack_rows]
        try:
            report.cloudwatch_calls += transport.put(datums)
        except Exception as error:  # botocore raises many types; all mean "not delivered yet"
            message = f"put_metric_data failed: {describe(error, secrets)}"
            outbox.record(engine, pack_ids, "cloudwatch", outbox.PENDING, error=message)
            report.add("cloudwatch", "retrying", len(pack_ids))
            report.errors.append(message)
            logger.warning(f"CloudWatch delivery of {len(pack_ids)} window(s) failed: {message}")
            continue
        outbox.record(engine, pack_ids, "cloudwatch", outbox.SENT)
        report.add("cloudwatch", "sent", len(pack_ids))
