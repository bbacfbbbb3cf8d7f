"""The work behind each asset as plain functions: sources → stats → store, no Dagster."""
