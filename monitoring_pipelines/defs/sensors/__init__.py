"""Sensors: drift thresholds into the alert outbox, and failed monitoring runs into Slack."""
