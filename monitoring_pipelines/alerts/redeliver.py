"""``monitoring-pipelines redeliver``: after fixing a cause (a channel, a scope, a token),
put chosen outbox rows back to pending and deliver them now, in this process.

``failed`` and ``skipped`` rows are retried; ``unconfirmed`` ones are looked up first as in
any delivery, and posted again without a lookup only with ``resend_unconfirmed`` (after the
operator checked the channel). Transports come from the same environment variables as the
alert job's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from monitoring_pipelines.alerts.cloudwatch import (
    NAMESPACE_ENV,
    CloudWatchSettings,
    CloudWatchTransport,
)
from monitoring_pipelines.alerts.delivery import deliver_pending
from monitoring_pipelines.alerts.report import DeliveryReport
from monitoring_pipelines.alerts.slack import TOKEN_ENV, SlackSettings, SlackTransport
from monitoring_pipelines.store import alerts as outbox

log = logging.getLogger(__name__)
DEFAULT_STATUSES = (outbox.FAILED,)


@dataclass(frozen=True)
class Redelivery:
    """Rows chosen, requeued per channel, and what the delivery then did (None: not sent)."""

    chosen: tuple[int, ...]
    requeued: dict[str, list[int]]
    report: DeliveryReport | None


def transports(
    env: Mapping[str, str] | None = None,
) -> tuple[SlackTransport | None, CloudWatchTransport | None]:
    """The live transports the environment configures (None where it configures none)."""
    env = os.environ if env is None else env
    slack = SlackTransport(SlackSettings.from_env(env)) if env.get(TOKEN_ENV) else None
    cloudwatch = None
    if env.get(NAMESPACE_ENV):
        cloudwatch = CloudWatchTransport(CloudWatchSettings.from_env(env))
    return slack, cloudwatch


def redeliver(
    engine: Engine,
    *,
    ids: Sequence[int] | None = None,
    deployment_id: str | None = None,
    statuses: Sequence[str] | None = None,
    channels: Sequence[str] = ("slack",),
    resend_unconfirmed: bool = False,
    send: bool = True,
    env: Mapping[str, str] | None = None,
) -> Redelivery:
    """Requeue the rows chosen by id / deployment / status (default: failed) in ``channels``
    and, with ``send``, deliver exactly those rows now."""
    if not ids and deployment_id is None and not statuses:
        raise ValueError("choose rows to redeliver: give --id, --deployment or --status")
    statuses = statuses or ((outbox.UNCONFIRMED,) if resend_unconfirmed else DEFAULT_STATUSES)
    requeued: dict[str, list[int]] = {}
    chosen: set[int] = set()
    for channel in channels:
        rows = outbox.select_rows(
            engine, ids=ids, deployment_id=deployment_id, statuses=statuses, channel=channel
        )
        chosen |= {row["id"] for row in rows}
        result = outbox.requeue(
            engine, [row["id"] for row in rows], channel, resend_unconfirmed=resend_unconfirmed
        )
        requeued[channel] = result["requeued"]
    if not send or not chosen:
        return Redelivery(tuple(sorted(chosen)), requeued, None)
    slack, cloudwatch = transports(env)
    report = deliver_pending(
        engine, slack, cloudwatch, channels=channels, ids=sorted(chosen), logger=log
    )
    return Redelivery(tuple(sorted(chosen)), requeued, report)
