"""The `monitoring-pipelines` console script: demo, status, report, alerts, redeliver, serve.

Exit codes: 0 ok; 1 drift found (with ``--fail-on-drift``) or a failure (e.g. the database is
unreachable); 2 a usage or configuration error (a bad argument or value, a missing file). A
failing command prints one clear, secret-free line (``monitoring-pipelines: error: …``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

CHANNELS = ("slack", "cloudwatch")
STATUSES = ("pending", "sending", "unconfirmed", "sent", "failed", "skipped")
KINDS = (
    "drift",
    "resolved",
    "no_data",
    "run_failure",
    "notice",
    "metrics",
    "performance",
    "retraining",
)
RELATIVE_HOUR = re.compile(r"latest(?:-(\d+)([hd]))?")
HOUR_FORMS = (
    "an ISO hour (e.g. 2026-11-09T00:00, UTC unless it has an offset), latest (the end of "
    "the last complete UTC hour) or latest-Nh / latest-Nd (N hours / days before it)"
)
START_HELP = "first hour (UTC, ISO, e.g. 2026-11-09T00:00, or latest-Nh / latest-Nd)"
END_HELP = "end of the last hour (UTC, ISO, or latest: the end of the last complete hour)"


def _hour(text: str) -> datetime:
    """An ISO hour boundary, or ``latest[-Nh|-Nd]`` counted back from the last complete hour."""
    relative = RELATIVE_HOUR.fullmatch(text)
    if relative:
        from monitoring_pipelines.defs.demo import last_complete_hour_end

        count, unit = relative.groups()
        hours = int(count or 0) * (24 if unit == "d" else 1)
        return last_complete_hour_end() - timedelta(hours=hours)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {HOUR_FORMS}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.minute or moment.second or moment.microsecond:
        raise argparse.ArgumentTypeError(f"{text!r} is not on an hour boundary")
    return moment


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _selection(command: argparse.ArgumentParser, statuses_help: str) -> None:
    command.add_argument("--id", dest="ids", type=_positive, nargs="+", help="outbox row ids")
    command.add_argument("--deployment", help="only this deployment's rows")
    command.add_argument(
        "--status", dest="statuses", choices=STATUSES, nargs="+", help=statuses_help
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitoring-pipelines", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of failures")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser = functools.partial(commands.add_parser, parents=[common])
    demo = commands.add_parser(
        "demo",
        help="generate a drifting deployment and materialize it",
        description="Generate a synthetic credit-risk model's reference data and hourly "
        "scoring logs (drift injected from one hour on), then materialize the baseline and "
        "every hour as one run into $DAGSTER_HOME and judge the drift as the sensor does.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--hours", type=_positive, default=72, help="hours of logs to generate")
    demo.add_argument(
        "--drift-from-hour",
        type=int,
        default=48,
        help="first drifted hour (0 is the oldest; >= --hours means no drift)",
    )
    demo.add_argument(
        "--rows-per-hour",
        type=_positive,
        default=2000,
        help="mean scored rows per hour (traffic follows a daily cycle around it)",
    )
    demo.add_argument(
        "--reference-rows", type=_positive, default=20_000, help="rows of training data"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    demo.add_argument(
        "--end",
        type=_hour,
        default="latest",
        help="end of the last hour (ISO, latest or latest-Nh/-Nd); the UI's plots by partition "
        "show the last 120 hours up to now",
    )
    demo.add_argument(
        "--kafka",
        action="store_true",
        help="log the traffic through a local Kafka broker (tansu, in memory) and read the "
        "hours back from its topic",
    )
    backfill = commands.add_parser(
        "backfill",
        help="materialize a deployment's range of hours as one run, with a progress bar",
        description="Run hourly_monitoring_job for START <= hour < END of one deployment as "
        "one in-process run on the Dagster instance at $DAGSTER_HOME (the UI shows it), with "
        "a progress bar per asset and a summary at the end. Alerts are left to "
        "drift_threshold_sensor.",
    )
    backfill.add_argument("--deployment", required=True, help="deployment id in monitors.yaml")
    backfill.add_argument("--start", type=_hour, required=True, help=START_HELP)
    backfill.add_argument("--end", type=_hour, required=True, help=END_HELP)
    backfill.add_argument("--json", action="store_true", help="print the summary as JSON")
    backfill.add_argument(
        "--without-quality-checks",
        action="store_true",
        help="skip the great-expectations checks (about 0.2 s per hour; drift is still checked)",
    )
    backfill.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when an hour of the range drifted"
    )
    report = commands.add_parser(
        "report",
        help="write a deployment's self-contained HTML drift report for a range of hours",
        description="Write the drift report of START <= hour < END from the stored aggregates "
        "and drift scores (no raw rows are read). Prints the file's path.",
    )
    report.add_argument("--deployment", required=True, help="deployment id in monitors.yaml")
    report.add_argument("--start", type=_hour, required=True, help=START_HELP)
    report.add_argument("--end", type=_hour, required=True, help=END_HELP)
    report.add_argument(
        "--output",
        type=Path,
        help="HTML file to write (default: $DAGSTER_HOME/reports/<deployment>/<start>_<end>.html)",
    )
    report.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when a column drifted in the period"
    )
    status = commands.add_parser(
        "status",
        help="each deployment's last profiled hour, its rows and drift, the last alert and its "
        "delivery, and the schedules' and sensors' state",
    )
    status.add_argument(
        "--deployment", dest="deployments", nargs="+", help="only these deployments (default: all)"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when a last profiled hour drifted"
    )
    alerts = commands.add_parser(
        "alerts", help="list recent alerts (alerts first, window metrics last) and their delivery"
    )
    alerts.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    alerts.add_argument("--limit", type=_positive, default=50, help="rows to show (newest first)")
    alerts.add_argument("--kind", dest="kinds", choices=KINDS, nargs="+", help="only these kinds")
    _selection(alerts, "only rows with this status (window metrics: CloudWatch's, others: Slack's)")
    redeliver = commands.add_parser(
        "redeliver",
        help="after fixing a cause, put chosen outbox rows back to pending and deliver them now",
    )
    _selection(redeliver, "rows with this status (default: failed)")
    redeliver.add_argument(
        "--channel", dest="channels", choices=CHANNELS, nargs="+", default=["slack"]
    )
    redeliver.add_argument(
        "--resend-unconfirmed",
        action="store_true",
        help="post unconfirmed rows again without a lookup (you checked the channel)",
    )
    redeliver.add_argument("--no-send", action="store_true", help="requeue only")
    metrics = commands.add_parser(
        "metrics",
        help="serve each deployment's latest numbers on a Prometheus /metrics endpoint",
        description="Answer Prometheus scrapes at http://HOST:PORT/metrics with gauges read "
        "from the store at each scrape (see README 'Prometheus and Grafana').",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    metrics.add_argument("--host", default="127.0.0.1", help="address to listen on")
    metrics.add_argument("--port", type=int, default=9464, help="port to listen on")
    metrics.add_argument(
        "--deployment", dest="deployments", nargs="+", help="only these deployments (default: all)"
    )
    serve = commands.add_parser(
        "serve", help="run the Dagster daemon and webserver on PostgreSQL (see README)"
    )
    serve.add_argument("--workspace", type=Path, default=Path("workspace.yaml"))
    return parser


def _backfill(args: argparse.Namespace) -> int:
    from monitoring_pipelines.config import load_config
    from monitoring_pipelines.defs.backfill import check_range, run_backfill

    config = load_config()
    hours = check_range(config, args.deployment, args.start, args.end)
    with _progress_bars(len(hours)) as advance:
        outcome = run_backfill(
            config,
            args.deployment,
            args.start,
            args.end,
            advance,
            quality_checks=not args.without_quality_checks,
        )
    if args.json:
        print(json.dumps(outcome.as_json(), indent=2))
    else:
        print(outcome.summary())
    if not outcome.success:
        return 1
    return 1 if args.fail_on_drift and any(outcome.drifted.values()) else 0


@contextmanager
def _progress_bars(hours: int) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar with ETA per asset on stderr; yields the function advancing one."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("hours"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True)) as progress:
        tasks = {
            asset: progress.add_task(asset, total=hours)
            for asset in ("hourly_aggregates", "drift_scores")
        }

        def advance(asset: str, done: int, total: int) -> None:
            if asset in tasks:
                progress.update(tasks[asset], completed=done, total=total)

        yield advance


def _report(args: argparse.Namespace) -> int:
    from monitoring_pipelines.config import load_config
    from monitoring_pipelines.pipeline.report import build_report, report_path, write_report
    from monitoring_pipelines.report.model import sections
    from monitoring_pipelines.store.engine import get_engine

    report = build_report(load_config(), get_engine(), args.deployment, args.start, args.end)
    path = args.output or report_path(args.deployment, args.start, args.end)
    written = write_report(report, path, png=False)
    drifted = ", ".join(report.drifted) or "none"
    print(f"{written.html}\nstatus: {report.status}; drifted columns: {drifted}")
    for part in sections(report):
        if part.version is not None:
            print(
                f"  {part.start:%Y-%m-%d %H:%M} → {part.end:%Y-%m-%d %H:%M} UTC, {part.hours} "
                f"hours against baseline {part.version.label()}: {part.status}; drifted "
                f"columns: {', '.join(part.drifted) or 'none'}"
            )
    return 1 if args.fail_on_drift and report.drifted else 0


def _alerts(args: argparse.Namespace) -> int:
    from monitoring_pipelines.alerts.listing import format_alerts
    from monitoring_pipelines.store.alerts import select_rows
    from monitoring_pipelines.store.engine import get_engine

    rows = select_rows(
        get_engine(),
        ids=args.ids,
        deployment_id=args.deployment,
        statuses=args.statuses,
        kinds=args.kinds,
        limit=args.limit,
    )
    print(json.dumps(rows, default=_json_value, indent=2) if args.json else format_alerts(rows))
    return 0


def _json_value(value: object) -> str:
    """Datetimes as ISO 8601 in JSON output."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _status(args: argparse.Namespace) -> int:
    from monitoring_pipelines.alerts.redact import describe
    from monitoring_pipelines.config import load_config
    from monitoring_pipelines.defs.instigators import read_states
    from monitoring_pipelines.pipeline.status import deployment_status, format_status
    from monitoring_pipelines.store.engine import get_engine

    config = load_config()
    ids = args.deployments or [d.id for d in config.deployments]
    for deployment_id in ids:
        config.deployment(deployment_id)
    engine = get_engine()
    statuses = [deployment_status(engine, deployment_id) for deployment_id in ids]
    try:
        states, unreachable = read_states(), None
    except Exception as error:  # the store's status is still worth showing
        states, unreachable = {}, describe(error)
    if args.json:
        print(json.dumps({
            "deployments": [s.as_json() for s in statuses],
            "instigators": states,
            "instance_error": unreachable,
        }, indent=2))  # fmt: skip
    else:
        print(format_status(statuses))
        if unreachable:
            print(f"\nschedules and sensors: unknown (Dagster instance: {unreachable})")
        else:
            print("\nschedules and sensors (they tick while dagster-daemon runs):")
            print("\n".join(f"  {name:<32} {state}" for name, state in states.items()))
    return 1 if args.fail_on_drift and any(s.status == "drift" for s in statuses) else 0


def _redeliver(args: argparse.Namespace) -> int:
    from monitoring_pipelines.alerts.listing import format_redelivery
    from monitoring_pipelines.alerts.redeliver import redeliver
    from monitoring_pipelines.store.engine import get_engine

    result = redeliver(
        get_engine(),
        ids=args.ids,
        deployment_id=args.deployment,
        statuses=args.statuses,
        channels=args.channels,
        resend_unconfirmed=args.resend_unconfirmed,
        send=not args.no_send,
    )
    print(format_redelivery(result))
    if result.report is None:
        return 0
    counts = [result.report.summary(channel) for channel in args.channels]
    return 1 if any(n for c in counts for outcome, n in c.items() if outcome != "sent") else 0


def _demo(args: argparse.Namespace) -> int:
    from monitoring_pipelines.defs.demo import DemoSettings, run_demo
    from monitoring_pipelines.service import EVENT_BATCH_SIZE

    # the demo's range runs write each asset's hours as one batch (dagster.yaml's storage)
    os.environ.setdefault(*EVENT_BATCH_SIZE)
    run_demo(
        DemoSettings(
            hours=args.hours,
            drift_from_hour=args.drift_from_hour,
            rows_per_hour=args.rows_per_hour,
            reference_rows=args.reference_rows,
            seed=args.seed,
            end=args.end,
            kafka=args.kafka,
        )
    )
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from monitoring_pipelines.config import load_config
    from monitoring_pipelines.prometheus import metrics_server
    from monitoring_pipelines.store.engine import get_engine

    config = load_config()
    ids = args.deployments or [d.id for d in config.deployments]
    for deployment_id in ids:
        config.deployment(deployment_id)
    # SIGTERM stops it like Ctrl-C even when it was started with SIGTERM ignored: a shell's
    # background job ignores SIGINT, and Dagster copies SIGINT's disposition onto SIGTERM in
    # the process that launches us, so SIG_IGN is what a child of such a process inherits.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with metrics_server(get_engine(), ids, args.host, args.port) as server:
        host, port = server.server_address[:2]
        print(f"serving http://{host}:{port}/metrics for {', '.join(ids)} (Ctrl-C stops)")
        sys.stdout.flush()
        with suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


def _serve(args: argparse.Namespace) -> int:
    from monitoring_pipelines.service import serve

    return serve(args.workspace)


COMMANDS = {
    "demo": _demo,
    "status": _status,
    "backfill": _backfill,
    "report": _report,
    "alerts": _alerts,
    "redeliver": _redeliver,
    "metrics": _metrics,
    "serve": _serve,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except Exception as error:  # every failure ends as one clear line unless --debug
        if args.debug:
            raise
        from monitoring_pipelines.alerts.redact import describe

        print(f"monitoring-pipelines: error: {describe(error)}", file=sys.stderr)
        print("(run with --debug for the traceback)", file=sys.stderr)
        return 2 if isinstance(error, ValueError | LookupError | FileNotFoundError) else 1


if __name__ == "__main__":
    sys.exit(main())
