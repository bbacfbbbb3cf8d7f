"""The alert and policy modules never import dagster (only defs/ and definitions.py may)."""

from __future__ import annotations

import subprocess
import sys


def test_alerts_and_policy_do_not_import_dagster():
    modules = [
        "monitoring_pipelines.alerts.delivery",
        "monitoring_pipelines.alerts.redeliver",
        "monitoring_pipelines.alerts.slack_messages",
        "monitoring_pipelines.stats.category_shift",
        "monitoring_pipelines.stats.alert_policy",
        "monitoring_pipelines.stats.retraining",
        "monitoring_pipelines.store.alerts",
    ]
    code = f"import sys; import {', '.join(modules)}; print('dagster' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
