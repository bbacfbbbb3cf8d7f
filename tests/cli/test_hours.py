"""`--start`/`--end` take ISO hours or `latest[-Nh|-Nd]`, counted back from the last complete
hour; `demo` without `--end` ends there; anything else exits 2 naming the value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring_pipelines import cli


def _parsed_with_clock(argv: list[str]) -> tuple[object, list[datetime]]:
    """Parse argv; return the namespace and the hours the clock was on before and after."""
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    args = cli.build_parser().parse_args(argv)
    after = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return args, [before, after]


@pytest.mark.parametrize(
    ("start", "back"),
    [("latest", 0), ("latest-4h", 4), ("latest-1d", 24), ("latest-2d", 48), ("latest-0h", 0)],
)
def test_relative_hours_count_back_from_the_last_complete_hour(start, back):
    argv = ["report", "--deployment", "credit_risk", "--start", start, "--end", "latest"]
    args, clock = _parsed_with_clock(argv)
    assert args.end in clock and args.end.tzinfo is UTC
    assert args.end - args.start == timedelta(hours=back)


def test_iso_hours_are_unchanged_and_the_demo_ends_at_the_last_complete_hour():
    args = cli.build_parser().parse_args(
        ["backfill", "--deployment", "d", "--start", "2026-11-09T20:00", "--end",
         "2026-11-10T03:00+02:00"]
    )  # fmt: skip
    assert args.start == datetime(2026, 11, 9, 20, tzinfo=UTC)
    assert args.end == datetime(2026, 11, 10, 1, tzinfo=UTC)
    demo, clock = _parsed_with_clock(["demo"])
    assert demo.end in clock
    pinned = cli.build_parser().parse_args(["demo", "--end", "2026-11-10T00:00"])
    assert pinned.end == datetime(2026, 11, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["yesterday", "Latest", "latest-4", "latest-h", "latest+1h", "latest-1w", "4h"]
)
def test_a_bad_hour_exits_2_naming_the_value(value, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["report", "--deployment", "credit_risk", "--start", value, "--end", "latest"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: monitoring-pipelines report")
    assert f"argument --start: {value!r} is not an ISO hour" in err
    assert "latest-Nh / latest-Nd" in err
