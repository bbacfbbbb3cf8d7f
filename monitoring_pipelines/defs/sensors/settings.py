"""Each deployment's alert settings and Slack routing, parsed from its ``alerts:`` block.

A bad block raises ``ConfigError`` naming the deployment's field, both when the code
location loads and at each sensor tick (the file may have changed since).
"""

from monitoring_pipelines.alerts.evaluate import SlackRouting
from monitoring_pipelines.config import ConfigError, MonitorsConfig
from monitoring_pipelines.stats.alert_policy import AlertSettings


def alert_settings(
    config: MonitorsConfig, deployment_ids: set[str] | None = None
) -> tuple[dict[str, AlertSettings], dict[str, SlackRouting]]:
    """Settings and routing for ``deployment_ids`` (default: all) that are in ``config``."""
    settings, routing = {}, {}
    for index, deployment in enumerate(config.deployments):
        if deployment_ids is not None and deployment.id not in deployment_ids:
            continue
        try:
            settings[deployment.id] = AlertSettings.from_mapping(deployment.alerts)
            routing[deployment.id] = SlackRouting.from_mapping(deployment.alerts)
        except (ValueError, TypeError, AttributeError) as error:
            raise ConfigError(f"deployments[{index}].alerts ({deployment.id}): {error}") from None
    return settings, routing
