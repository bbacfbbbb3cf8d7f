"""The fault corpus: each test starts from a failing behaviour of issue 14 and checks the fix.
Slack and CloudWatch are the local servers of tests/alerts; a small deployment on disk comes
from tests/defs."""

from tests.alerts.conftest import (  # noqa: F401
    aws_env,
    cloudwatch,
    cloudwatch_reader,
    fake_slack,
    moto,
    moto_url,
    slack,
    slack_settings,
    slack_token,
)
from tests.defs.conftest import tiny_deployment  # noqa: F401
