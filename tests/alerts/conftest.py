"""Local stand-ins for Slack (tests/fakes/slack_server.py) and CloudWatch (moto's server)."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from monitoring_pipelines.alerts.cloudwatch import CloudWatchSettings, CloudWatchTransport
from monitoring_pipelines.alerts.slack import SlackSettings, SlackTransport
from tests.fakes.cloudwatch_proxy import ThrottlingProxy
from tests.fakes.credentials import fake_secret, fake_slack_token
from tests.fakes.slack_server import FakeSlack

UI_URL = "http://dagster.test:3000"
CHANNEL = "C0ALERTS1"


@pytest.fixture
def slack_token() -> str:
    return fake_slack_token()


@pytest.fixture
def fake_slack(slack_token: str) -> Iterator[FakeSlack]:
    server = FakeSlack(slack_token, hang_seconds=2.0).start()
    yield server
    server.stop()


@pytest.fixture
def slack_settings(fake_slack: FakeSlack, slack_token: str) -> SlackSettings:
    return SlackSettings(
        token=slack_token,
        base_url=fake_slack.url,
        default_channel=CHANNEL,
        ui_url=UI_URL,
        timeout_seconds=1,
        max_retries=2,
        backoff_seconds=0.01,
        settle_seconds=0,  # tests settle unknown outcomes at once; production waits a minute
    )


@pytest.fixture
def slack(slack_settings: SlackSettings) -> SlackTransport:
    return SlackTransport(slack_settings)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, so nothing can reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": fake_secret("aws"),
        "AWS_SESSION_TOKEN": "testing-session",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto(moto_url: str, aws_env: None) -> str:
    """The moto server, with its state reset for this test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    return moto_url


@pytest.fixture
def throttling_proxy(moto: str) -> Iterator[ThrottlingProxy]:
    proxy = ThrottlingProxy(moto).start()
    yield proxy
    proxy.stop()


def cloudwatch_settings(endpoint_url: str, max_attempts: int = 4) -> CloudWatchSettings:
    return CloudWatchSettings(
        namespace=f"Test/{uuid.uuid4().hex[:8]}",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        max_attempts=max_attempts,
        timeout_seconds=5,
    )


@pytest.fixture
def cloudwatch(moto: str) -> CloudWatchTransport:
    return CloudWatchTransport(cloudwatch_settings(moto))


@pytest.fixture
def cloudwatch_reader(moto: str):
    """A plain boto3 client on moto, to read back what was put."""
    return boto3.client("cloudwatch", endpoint_url=moto, region_name="us-east-1")
