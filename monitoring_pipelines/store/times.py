"""Instants as the store hands them out: timezone-aware UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime; naive values (SQLite returns them) are taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
