"""Scoring-log and reference-data readers: chunked, one deployment at a time, no Dagster."""
