"""Deliver the outbox's Slack rows exactly once: settle unknown outcomes by lookup, then post.

One run: (1) probe each channel once: can its history be searched? A channel given by name
or a token without the history scope cannot, which is said once (run log and an outbox
notice) and decides the rows' guarantee; (2) every ``unconfirmed`` row (a post of unknown
outcome) is looked up by its dedup key: found → ``sent``, proven absent → ``pending``, lookup
failed → still ``unconfirmed`` (the lookup is retried next run, the post never); where no
lookup is possible, ``SLACK_UNCONFIRMED_POLICY`` decides: ``wait`` keeps it unconfirmed (at
most once), ``resend`` posts it again (at least once); (3) pending rows are posted, one
message per deployment window; a resolved notice updates its original message in place
and replies in its thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from monitoring_pipelines.alerts.evaluate import no_channel
from monitoring_pipelines.alerts.performance_messages import (
    performance_message,
    retraining_message,
)
from monitoring_pipelines.alerts.report import DeliveryReport
from monitoring_pipelines.alerts.slack import (
    POLICY_ENV,
    WAIT,
    Capability,
    Outcome,
    SlackDeliveryError,
    SlackTransport,
)
from monitoring_pipelines.alerts.slack_messages import (
    drift_message,
    marker,
    no_data_message,
    resolved_message,
    run_failure_message,
)
from monitoring_pipelines.alerts.threads import pair_resolutions, resolutions_of, result_key
from monitoring_pipelines.stats.alert_policy import DRIFT, RESOLVED
from monitoring_pipelines.stats.segments import ALL
from monitoring_pipelines.store import alerts as outbox
from monitoring_pipelines.store.drift import read_drift_scores

LOOKUP_MARGIN = timedelta(minutes=5)
HISTORY = timedelta(days=14)
SLACK = "slack"
UNSETTLED = (outbox.PENDING, outbox.SENDING, outbox.UNCONFIRMED)


class SlackDelivery:
    """One delivery run over the Slack rows (optionally only ``ids``)."""

    def __init__(
        self,
        engine: Engine,
        transport: SlackTransport,
        report: DeliveryReport,
        logger: logging.Logger | logging.LoggerAdapter,
        ids: Sequence[int] | None = None,
    ) -> None:
        self.engine = engine
        self.slack = transport
        self.settings = transport.settings
        self.report = report
        self.log = logger
        self.ids = ids
        self._capabilities: dict[str, Capability] = {}
        self._timelines: dict[str, list[dict[str, Any]]] = {}

    def run(self) -> None:
        rows = outbox.with_status(
            self.engine, SLACK, (outbox.PENDING, outbox.UNCONFIRMED), self.ids
        )
        for channel in sorted({c for row in rows if (c := self._channel(row))}):
            self.capability(channel)
        self._settle([r for r in rows if r["slack_status"] == outbox.UNCONFIRMED])
        pending = outbox.with_status(self.engine, SLACK, (outbox.PENDING,), self.ids)
        first = [r for r in pending if r["kind"] != RESOLVED]
        for group in self._post_groups(first):
            self._post(group)
        self._timelines.clear()  # originals may have been sent just now
        later = outbox.with_status(self.engine, SLACK, (outbox.PENDING,), self.ids)
        for group, thread in self._resolved_groups([r for r in later if r["kind"] == RESOLVED]):
            self._post(group, thread)

    # channels and their lookups

    def _channel(self, row: Mapping[str, Any]) -> str | None:
        return row["slack_channel"] or self.settings.default_channel

    def capability(self, channel: str) -> Capability:
        """The channel's lookup capability, probed once per run; an impossible lookup is
        logged once per run and kept as an outbox notice (once per channel and reason)."""
        if channel not in self._capabilities:
            found = self.slack.capability(channel)
            self._capabilities[channel] = found
            if found.possible is False:
                policy = self.settings.unconfirmed_policy
                if policy == WAIT:
                    choice = "kept unconfirmed (at most once)"
                else:
                    choice = "posted again (at least once)"
                text = (
                    f"Slack duplicate check impossible for {channel}: {found.reason}. A post "
                    f"whose outcome is unknown is {choice}: {POLICY_ENV}={policy}"
                )
                self.log.warning(text)
                self.report.notices.append(text)
                key = f"slack|lookup_impossible|{channel}|{found.reason}"
                outbox.enqueue(self.engine, [outbox.notice_entry(key, text)])
            elif found.possible is None:
                self.log.warning(f"Slack history probe of {channel} failed: {found.reason}")
        return self._capabilities[channel]

    def _guarantee(self, channel: str) -> str:
        if self.capability(channel).possible is not False:
            return outbox.EXACTLY_ONCE
        if self.settings.unconfirmed_policy == WAIT:
            return outbox.AT_MOST_ONCE
        return outbox.AT_LEAST_ONCE

    def _timeline(self, deployment_id: str) -> list[dict[str, Any]]:
        if deployment_id not in self._timelines:
            since = datetime.now(UTC) - 2 * HISTORY
            self._timelines[deployment_id] = outbox.alert_timeline(
                self.engine, deployment_id, since
            )
        return self._timelines[deployment_id]

    def _original(self, row: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The drift row a resolved row resolves."""
        return pair_resolutions(self._timeline(row["deployment_id"])).get(row["id"])

    # (2) unknown outcomes

    def _settle(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Look up each unconfirmed row; never post one whose absence is not proven."""
        groups: dict[tuple, list] = defaultdict(list)
        for row in rows:
            thread = None
            if row["kind"] == RESOLVED:
                original = self._original(row)
                if original is not None and original["slack_ts"]:
                    thread = original["slack_ts"]
            groups[(self._channel(row), thread)].append(row)
        settled_before = datetime.now(UTC) - self.settings.settle
        for (channel, thread), group in groups.items():
            if channel is None:  # only rows from before channels were recorded at claim time
                message = f"{no_channel(group[0]['deployment_id'])}: cannot look it up"
                ids = [r["id"] for r in group]
                outbox.record(
                    self.engine, ids, SLACK, outbox.UNCONFIRMED, error=message, held=False
                )
                self._failed("unconfirmed", len(group), message)
                continue
            ready = [
                r for r in group if (r["slack_claimed_at"] or r["created_at"]) <= settled_before
            ]
            self.report.add(SLACK, "waiting", len(group) - len(ready))
            if ready:
                self._look_up(channel, thread, ready)

    def _look_up(self, channel: str, thread: str | None, rows: Sequence[Mapping[str, Any]]):
        ids = [r["id"] for r in rows]
        won = outbox.claim(self.engine, ids, SLACK, from_status=outbox.UNCONFIRMED)
        rows = [r for r in rows if r["id"] in won]
        if not rows:
            return
        capability = self.capability(channel)
        if capability.possible is False:
            self._without_lookup(channel, capability, won)
            return
        wanted = {r["dedup_key"]: r["slack_marker"] for r in rows}
        oldest = min(r["created_at"] for r in rows) - LOOKUP_MARGIN
        try:
            found = self.slack.find_posted(channel, wanted, oldest, thread_ts=thread)
        except SlackDeliveryError as error:
            message = (
                f"duplicate lookup failed, will look again (the post is not repeated): {error}"
            )
            outbox.record(self.engine, won, SLACK, outbox.UNCONFIRMED, error=message)
            self._failed("unconfirmed", len(won), message)
            return
        self.report.slack_lookups += 1
        for row in rows:
            ts = found.found.get(row["dedup_key"])
            if ts is not None:
                outbox.record(self.engine, row["id"], SLACK, outbox.SENT, slack_ts=ts)
                self.report.add(SLACK, "sent")
            elif found.complete:
                absent = "not in the channel after an unknown outcome: posting it now"
                outbox.record(self.engine, row["id"], SLACK, outbox.PENDING, error=absent)
            else:
                message = (
                    "duplicate lookup inconclusive (too much history to read); kept unconfirmed"
                )
                outbox.record(self.engine, row["id"], SLACK, outbox.UNCONFIRMED, error=message)
                self._failed("unconfirmed", 1, message)

    def _without_lookup(self, channel: str, capability: Capability, ids: Sequence[int]) -> None:
        """Apply SLACK_UNCONFIRMED_POLICY where the channel's history cannot be searched."""
        reason = f"duplicate check impossible for {channel} ({capability.reason})"
        if self.settings.unconfirmed_policy == WAIT:
            message = f"{reason}: kept unconfirmed ({POLICY_ENV}=wait, at most once)"
            outbox.record(
                self.engine, ids, SLACK, outbox.UNCONFIRMED, error=message,
                guarantee=outbox.AT_MOST_ONCE,
            )  # fmt: skip
            self._failed("unconfirmed", len(ids), message)
            return
        message = f"{reason}: posting again ({POLICY_ENV}=resend, at least once)"
        outbox.record(
            self.engine, ids, SLACK, outbox.PENDING, error=message, guarantee=outbox.AT_LEAST_ONCE
        )

    # (3) posts

    def _post_groups(self, rows: Sequence[Mapping[str, Any]]) -> list[list]:
        """Drift rows: one message per (channel, deployment, window); run failures alone."""
        groups: dict[tuple, list] = defaultdict(list)
        for row in rows:
            if row["kind"] == DRIFT:
                key: tuple = (row["deployment_id"], row["window_start"], row["granularity"])
            else:
                key = (row["id"],)
            groups[(self._channel(row), row["kind"], *key)].append(row)
        order = {DRIFT: 0, outbox.NO_DATA: 1, outbox.RUN_FAILURE: 2}
        return sorted(groups.values(), key=lambda g: (order.get(g[0]["kind"], 2), g[0]["id"]))

    def _resolved_groups(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[list, Any]]:
        """Resolved rows per original message (a thread reply each) or, without a delivered
        original, per deployment window; rows whose original is still unsettled wait."""
        groups: dict[tuple, list] = defaultdict(list)
        originals: dict[tuple, Mapping[str, Any] | None] = {}
        for row in rows:
            original = self._original(row)
            if original is not None and original["slack_status"] in UNSETTLED:
                self.report.add(SLACK, "waiting")
                continue
            if original is not None and original["slack_status"] == outbox.SENT:
                key: tuple = (self._channel(original), original["slack_ts"], row["window_start"])
            else:
                original = None
                key = (self._channel(row), None, row["deployment_id"], row["window_start"])
            groups[key].append(row)
            originals[key] = original
        return [(group, originals[key]) for key, group in groups.items()]

    def _message(self, rows: Sequence[Mapping[str, Any]], in_thread: bool) -> dict:
        links = self.settings.links
        first = rows[0]
        if first["kind"] == DRIFT:
            performance = outbox.window_performance(
                self.engine, first["deployment_id"], first["window_start"], first["window_end"]
            )
            return drift_message(rows, links, performance=performance)
        if first["kind"] == RESOLVED:
            return resolved_message(rows, links, in_thread=in_thread)
        if first["kind"] == outbox.RUN_FAILURE:
            return run_failure_message(first, links)
        if first["kind"] == outbox.NO_DATA:
            return no_data_message(first)
        if first["kind"] == outbox.PERFORMANCE:
            start, end = first["window_start"], first["window_end"]
            deployment = first["deployment_id"]
            drift = read_drift_scores(self.engine, deployment, start, end, first["granularity"])
            segment = first.get("segment") or ALL
            return performance_message(
                rows,
                links,
                performance=outbox.window_performance(self.engine, deployment, start, end, segment),
                drifted=sorted({r["column_name"] for r in drift if r["drifted"]}),
                population=outbox.window_performance(self.engine, deployment, start, end)
                if segment != ALL
                else (),
            )
        if first["kind"] == outbox.RETRAINING:
            return retraining_message(first, links)
        raise ValueError(f"no Slack message for kind {first['kind']!r}")

    def _post(self, group: Sequence[Mapping[str, Any]], original: Mapping[str, Any] | None = None):
        channel = self._channel(original or group[0])
        if channel is None:
            reason = no_channel(group[0]["deployment_id"])
            outbox.skip(self.engine, [r["id"] for r in group], SLACK, reason)
            self.report.add(SLACK, "skipped", len(group))
            return
        ids = [r["id"] for r in group]
        guarantee = self._guarantee(channel)
        won = set(outbox.claim(self.engine, ids, SLACK, guarantee=guarantee, slack_channel=channel))
        group = [r for r in group if r["id"] in won]
        if not group:
            return
        ids = [r["id"] for r in group]
        thread = original["slack_ts"] if original is not None else None
        message_marker = marker([r["dedup_key"] for r in group])
        outbox.mark(self.engine, ids, message_marker)
        try:
            if original is not None:
                self._update_original(channel, original, group)
            message = self._message(group, thread is not None)
            ts = self.slack.post(channel, message, message_marker, thread_ts=thread)
        except SlackDeliveryError as error:
            self._record_failure(channel, ids, error)
            return
        outbox.record(self.engine, ids, SLACK, outbox.SENT, slack_ts=ts)
        self.report.add(SLACK, "sent", len(ids))
        self.report.slack_messages += 1

    def _update_original(
        self, channel: str, original: Mapping[str, Any], resolving: Sequence[Mapping[str, Any]]
    ) -> None:
        """Re-render the original message with its resolved results (idempotent). Only a
        transient failure stops the reply; a permanent one (message gone) is logged."""
        rows = outbox.rows_with_ts(self.engine, channel, original["slack_ts"])
        if not rows:
            return
        timeline = self._timeline(original["deployment_id"])
        pairs = pair_resolutions(timeline)
        resolved = resolutions_of(
            original["slack_ts"], timeline, pairs, frozenset({outbox.SKIPPED, outbox.FAILED})
        )
        for row in resolving:
            resolved[result_key(row)] = row["window_start"]
        performance = outbox.window_performance(
            self.engine, original["deployment_id"], original["window_start"], original["window_end"]
        )
        message = drift_message(
            rows, self.settings.links, resolved=resolved, performance=performance
        )
        try:
            self.slack.update(channel, original["slack_ts"], message)
        except SlackDeliveryError as error:
            if error.outcome is not Outcome.PERMANENT:
                raise
            self.log.warning(
                f"could not update the original message {original['slack_ts']}: {error}"
            )

    def _record_failure(self, channel: str, ids: Sequence[int], error: SlackDeliveryError):
        if error.outcome is Outcome.NOT_SENT:
            outbox.record(self.engine, ids, SLACK, outbox.PENDING, error=str(error))
            self._failed("retrying", len(ids), f"{error}; kept pending")
        elif error.outcome is Outcome.UNKNOWN:
            message = f"{error}; outcome unknown: kept unconfirmed until a lookup settles it"
            outbox.record(self.engine, ids, SLACK, outbox.UNCONFIRMED, error=message)
            self._failed("unconfirmed", len(ids), message)
        else:
            outbox.record(self.engine, ids, SLACK, outbox.FAILED, error=str(error))
            self._failed("failed", len(ids), f"{error}; marked failed, not retried")
            self._permanent_notice(channel, error)

    def _permanent_notice(self, channel: str, error: SlackDeliveryError) -> None:
        """One notice per (channel, error code), in the outbox and the run log."""
        text = (
            f"Slack rejects posts to {channel}: {error}. Its alerts are marked failed and not "
            "retried; fix the cause, then run `monitoring-pipelines redeliver --status failed`"
        )
        key = f"slack|{error.code or 'error'}|{channel}"
        if outbox.enqueue(self.engine, [outbox.notice_entry(key, text)]):
            self.log.error(text)
            self.report.notices.append(text)

    def _failed(self, outcome: str, count: int, message: str) -> None:
        self.report.add(SLACK, outcome, count)
        self.report.errors.append(message)
        self.log.warning(f"Slack delivery of {count} alert(s): {message}")
