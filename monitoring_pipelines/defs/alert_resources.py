"""Alert and metric sinks as Dagster resources, configured from environment variables.

Ops depend on the abstract ``AlertSink`` / ``MetricSink``; ``alert_resources`` is the one
place that reads the environment to pick the live or the log-only implementation. The
Slack token is a ``dagster.EnvVar`` resolved at run time, never a default or a log line.
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
    TOKEN_ENV,
    UI_URL_ENV,
    SlackSettings,
    SlackTransport,
)


class AlertSink(dg.ConfigurableResource, ABC):
    """Where alert messages go. ``transport()`` None: the run log and the outbox only."""

    ui_url: str | None = Field(default=None, description="Dagster UI base URL for links.")

    @abstractmethod
    def transport(self) -> SlackTransport | None: ...


class SlackResource(AlertSink):
    """Slack through slack-sdk's ``chat.postMessage``, with retries on 429, 5xx and timeouts."""

    token: str = Field(repr=False, description=f"Bot token; set it with EnvVar({TOKEN_ENV!r}).")
    base_url: str = DEFAULT_BASE_URL
    default_channel: str | None = None
    timeout_seconds: int = 10
    max_retries: int = 2
    backoff_seconds: float = 0.5

    def transport(self) -> SlackTransport:
        return SlackTransport(
            SlackSettings(
                token=self.token,
                base_url=self.base_url,
                default_channel=self.default_channel,
                ui_url=self.ui_url,
                timeout_seconds=self.timeout_seconds,
                max_retries=self.max_retries,
                backoff_seconds=self.backoff_seconds,
            )
        )


class RunLogAlertSink(AlertSink):
    """No Slack token: messages are written to the run log and stay pending in the outbox."""

    def transport(self) -> None:
        return None


class MetricSink(dg.ConfigurableResource, ABC):
    """Where window metrics go. ``transport()`` None: they stay pending in the outbox."""

    @abstractmethod
    def transport(self) -> CloudWatchTransport | None: ...


class CloudWatchResource(MetricSink):
    """CloudWatch ``put_metric_data``; credentials come from boto3's usual chain, never config."""

    namespace: str = DEFAULT_NAMESPACE
    endpoint_url: str | None = None
    region_name: str | None = None
    model_dimension: str = "ModelName"
    feature_dimension: str = "Feature"
    metric_dimension: str = "Metric"
    retry_mode: str = "standard"
    max_attempts: int = 5
    timeout_seconds: int = 10

    def transport(self) -> CloudWatchTransport:
        names = (f.name for f in dataclasses.fields(CloudWatchSettings))
        return CloudWatchTransport(CloudWatchSettings(**{n: getattr(self, n) for n in names}))


class DisabledMetricSink(MetricSink):
    """CloudWatch not configured: metrics wait in the outbox."""

    def transport(self) -> None:
        return None


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | dg.EnvVar | None:
    """An ``EnvVar`` (read at run time) when ``name`` is set now, else ``default``."""
    return dg.EnvVar(name) if env.get(name) else default


def alert_resources(env: Mapping[str, str] | None = None) -> dict[str, AlertSink | MetricSink]:
    """``slack`` live when SLACK_BOT_TOKEN is set, ``cloudwatch`` live when CLOUDWATCH_NAMESPACE
    is set; otherwise their log-only / disabled stand-ins."""
    env = os.environ if env is None else env
    ui_url = _env(env, UI_URL_ENV)
    if env.get(TOKEN_ENV):
        slack: AlertSink = SlackResource(
            token=dg.EnvVar(TOKEN_ENV),
            base_url=_env(env, BASE_URL_ENV, DEFAULT_BASE_URL),
            default_channel=_env(env, CHANNEL_ENV),
            ui_url=ui_url,
        )
    else:
        slack = RunLogAlertSink(ui_url=ui_url)
    if env.get(NAMESPACE_ENV):
        cloudwatch: MetricSink = CloudWatchResource(
            namespace=dg.EnvVar(NAMESPACE_ENV),
            endpoint_url=_env(env, ENDPOINT_ENV),
            region_name=_env(env, REGION_ENV),
        )
    else:
        cloudwatch = DisabledMetricSink()
    return {"slack": slack, "cloudwatch": cloudwatch}
