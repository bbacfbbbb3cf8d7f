"""The `monitoring-pipelines` console script: demo, alerts, serve."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path


def _hour(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.minute or moment.second or moment.microsecond:
        raise argparse.ArgumentTypeError(f"{text!r} is not on an hour boundary")
    return moment


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitoring-pipelines", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="generate a drifting deployment and materialize it")
    demo.add_argument("--hours", type=_positive, default=72)
    demo.add_argument("--drift-from-hour", type=int, default=48)
    demo.add_argument("--rows-per-hour", type=_positive, default=2000)
    demo.add_argument("--reference-rows", type=_positive, default=20_000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--end", type=_hour, help="end of the last hour (UTC, ISO); default: now")
    alerts = commands.add_parser("alerts", help="list recent alerts and their delivery status")
    alerts.add_argument("--limit", type=_positive, default=50, help="rows to show (newest first)")
    serve = commands.add_parser(
        "serve", help="run the Dagster daemon and webserver on PostgreSQL (see README)"
    )
    serve.add_argument("--workspace", type=Path, default=Path("workspace.yaml"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from monitoring_pipelines.defs.demo import DemoSettings, run_demo

        run_demo(
            DemoSettings(
                hours=args.hours,
                drift_from_hour=args.drift_from_hour,
                rows_per_hour=args.rows_per_hour,
                reference_rows=args.reference_rows,
                seed=args.seed,
                end=args.end,
            )
        )
    elif args.command == "alerts":
        from monitoring_pipelines.alerts.listing import format_alerts
        from monitoring_pipelines.store.alerts import list_recent
        from monitoring_pipelines.store.engine import get_engine

        print(format_alerts(list_recent(get_engine(), args.limit)))
    elif args.command == "serve":
        from monitoring_pipelines.service import ServiceError, serve

        try:
            return serve(args.workspace)
        except ServiceError as error:
            print(f"monitoring-pipelines serve: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
