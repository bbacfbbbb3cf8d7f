"""The HTML drift report: built from profiles and drift results only (no Dagster, no database)."""
