"""A long run logs a bounded number of progress lines, evenly spaced, always the last; the
backfill command's parser reads each of them."""

from datetime import UTC, datetime
from itertools import pairwise

from monitoring_pipelines.defs.progress import PROGRESS_LINES, ProgressLog, parse_progress

START = datetime(2026, 1, 1, tzinfo=UTC)


def _logged(indexes: list[int], total: int) -> list[tuple[int, int]]:
    lines: list[str] = []
    log = ProgressLog(lines.append)
    for index in indexes:
        log(index, total, "model_a", START, "10 rows")
    return [parse_progress(line) for line in lines]


def test_a_short_run_logs_every_hour():
    assert _logged(list(range(1, 7)), 6) == [(i, 6) for i in range(1, 7)]


def test_a_month_logs_one_line_per_fifteen_hours_and_the_last():
    logged = _logged(list(range(1, 721)), 720)
    assert len(logged) == PROGRESS_LINES == 48
    assert logged[0] == (15, 720) and logged[-1] == (720, 720)
    assert {b[0] - a[0] for a, b in pairwise(logged)} == {15}


def test_progress_that_jumps_is_logged_whenever_enough_hours_are_done():
    """A backfill split across processes reports a slice at a time."""
    assert _logged([90, 180, 185, 360, 720], 720) == [(90, 720), (180, 720), (360, 720), (720, 720)]
