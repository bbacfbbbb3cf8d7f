"""Alert and metric sinks as Dagster resources, configured from environment variables.

Ops and sensors depend on the abstract ``AlertSink`` / ``MetricSink``; ``alert_resources`` is
the one place that reads the environment to pick the live or the stand-in implementation
(sensors queue rows only for configured sinks). The Slack token is a ``dagster.EnvVar``
resolved at run time, never a default or a log line.
"""

import dataclasses
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from monitoring_pipelines.alerts.cloudwatch import (
    DEFAULT_NAMESPACE,
    ENDPOINT_ENV,
    NAMESPACE_ENV,
    REGION_ENV,
    CloudWatchSettings,
    CloudWatchTransport,
)
from monitoring_pipelines.alerts.slack import (
    BASE_URL_ENV,
    CHANNEL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_SETTLE_SECONDS,
    POLICY_ENV,
    REPORT_URL_ENV,
    TOKEN_ENV,
    UI_URL_ENV,
    WAIT,
    SlackSettings,
    SlackTransport,
)


class AlertSink(dg.ConfigurableResource, ABC):
    """Where alert messages go. ``transport()`` None: Slack is not configured."""

    ui_url: str | None = Field(default=None, description="Dagster UI base URL for links.")
    report_url: str | None = Field(
        default=None, description="Drift report URL ({deployment}, {start}, {end} allowed)."
    )

    @abstractmethod
    def transport(self) -> SlackTransport | None: ...

    @property
    @abstractmethod
    def configured(self) -> bool:
        """Whether alerts can be delivered (the sensors queue them as pending only then)."""

    @property
    def channel(self) -> str | None:
        """The channel for deployments that name none."""
        return None


class SlackResource(AlertSink):
    """Slack through slack-sdk: posts never re-sent after they may have arrived (see
    ``alerts/slack.py``), lookups and updates with slack-sdk's retries."""

    token: str = Field(repr=False, description=f"Bot token; set it with EnvVar({TOKEN_ENV!r}).")
    base_url: str = DEFAULT_BASE_URL
    default_channel: str | None = None
    timeout_seconds: float = 10
    max_retries: int = 2
    backoff_seconds: float = 0.5
    unconfirmed_policy: str = Field(
        default=WAIT, description=f"{POLICY_ENV}: wait (at most once) or resend (at least once)."
    )
    settle_seconds: float = DEFAULT_SETTLE_SECONDS

    @property
    def configured(self) -> bool:
        return True

    @property
    def channel(self) -> str | None:
        return self.default_channel

    def transport(self) -> SlackTransport:
        names = (f.name for f in dataclasses.fields(SlackSettings))
        return SlackTransport(SlackSettings(**{n: getattr(self, n) for n in names}))


class RunLogAlertSink(AlertSink):
    """No Slack token: alerts are recorded in the outbox as skipped, with the reason."""

    @property
    def configured(self) -> bool:
        return False

    def transport(self) -> None:
        return None


class MetricSink(dg.ConfigurableResource, ABC):
    """Where window metrics go. ``transport()`` None: CloudWatch is off, nothing is queued."""

    @abstractmethod
    def transport(self) -> CloudWatchTransport | None: ...

    @property
    @abstractmethod
    def configured(self) -> bool:
        """Whether window metrics are queued at all."""


class CloudWatchResource(MetricSink):
    """CloudWatch ``put_metric_data``; credentials come from boto3's usual chain, never config."""

    namespace: str = DEFAULT_NAMESPACE
    endpoint_url: str | None = None
    region_name: str | None = None
    model_dimension: str = "ModelName"
    feature_dimension: str = "Feature"
    metric_dimension: str = "Metric"
    reference_dimension: str = "Reference"
    segment_dimension: str = "Segment"
    retry_mode: str = "standard"
    max_attempts: int = 5
    timeout_seconds: int = 10

    @property
    def configured(self) -> bool:
        return True

    def transport(self) -> CloudWatchTransport:
        names = (f.name for f in dataclasses.fields(CloudWatchSettings))
        return CloudWatchTransport(CloudWatchSettings(**{n: getattr(self, n) for n in names}))


class DisabledMetricSink(MetricSink):
    """CloudWatch not configured: no metrics are queued."""

    @property
    def configured(self) -> bool:
        return False

    def transport(self) -> None:
        return None


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | dg.EnvVar | None:
    """An ``EnvVar`` (read at run time) when ``name`` is set now, else ``default``."""
    return dg.EnvVar(name) if env.get(name) else default


def alert_resources(env: Mapping[str, str] | None = None) -> dict[str, AlertSink | MetricSink]:
    """``slack`` live when SLACK_BOT_TOKEN is set, ``cloudwatch`` live when CLOUDWATCH_NAMESPACE
    is set; otherwise their stand-ins. Non-secret Slack settings are validated here, so a bad
    SLACK_UNCONFIRMED_POLICY or MONITORING_REPORT_URL fails when the code location loads."""
    env = os.environ if env is None else env
    checked = SlackSettings.from_env(env)
    links = {"ui_url": _env(env, UI_URL_ENV), "report_url": _env(env, REPORT_URL_ENV)}
    if env.get(TOKEN_ENV):
        slack: AlertSink = SlackResource(
            token=dg.EnvVar(TOKEN_ENV),
            base_url=_env(env, BASE_URL_ENV, DEFAULT_BASE_URL),
            default_channel=_env(env, CHANNEL_ENV),
            unconfirmed_policy=checked.unconfirmed_policy,
            settle_seconds=checked.settle_seconds,
            **links,
        )
    else:
        slack = RunLogAlertSink(**links)
    if env.get(NAMESPACE_ENV):
        cloudwatch: MetricSink = CloudWatchResource(
            namespace=dg.EnvVar(NAMESPACE_ENV),
            endpoint_url=_env(env, ENDPOINT_ENV),
            region_name=_env(env, REGION_ENV),
        )
    else:
        cloudwatch = DisabledMetricSink()
    return {"slack": slack, "cloudwatch": cloudwatch}
