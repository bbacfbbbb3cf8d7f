"""A database as release 0.1.0 left it: its create_all tables (``previous_release/*.sql``) and
a few rows, among them drift_scores windows whose ids an old sensor cursor points into."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from monitoring_pipelines.store.schema import aggregates, alerts, drift_scores

PREVIOUS_RELEASE = Path(__file__).with_name("previous_release")
T0 = datetime(2026, 11, 3, tzinfo=UTC)
H = timedelta(hours=1)


def load_previous_release(url: str) -> None:
    """The tables release 0.1.0 made with metadata.create_all, and a few rows in them."""
    engine = create_engine(url)
    lines = (PREVIOUS_RELEASE / f"{engine.dialect.name}.sql").read_text().splitlines()
    ddl = "\n".join(line for line in lines if not line.startswith("--"))
    statements = [statement for statement in ddl.split(";") if statement.strip()]
    drift_row = {
        "metric": "psi",
        "value": 0.3,
        "threshold": 0.25,
        "status": "significant",
        "drifted": True,
        "reference_size": 500,
        "current_size": 40,
        "computed_at": T0,
    }
    # windows (hour 0), (hour 1), (day 0), (hour 2): ids 1-2, 3-4, 5, 6-7
    windows = [(0, "hour", 2), (1, "hour", 2), (0, "day", 1), (2, "hour", 2)]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        for hour, granularity, columns in windows:
            conn.execute(
                insert(drift_scores),
                [
                    drift_row
                    | {
                        "deployment_id": "model_a",
                        "window_start": T0 + hour * H,
                        "window_end": T0 + (hour + 1) * H,
                        "granularity": granularity,
                        "column_name": f"c{c}",
                    }
                    for c in range(columns)
                ],
            )
        conn.execute(
            insert(aggregates),
            {
                "deployment_id": "model_a",
                "timestamp": T0,
                "column_name": "age",
                "is_baseline": True,
                "is_response": False,
                "logical_type": 1,
                "bin_edges": [float("-inf"), 0.0, float("inf")],
                "bin_counts": [3, 4],
                "missing_counts": 1,
                "count": 7,
                "invalid_counts": 0,
                "row_count": 8,
                "computed_at": T0,
            },
        )
        conn.execute(
            insert(alerts),
            {
                "dedup_key": "model_a|hour|k",
                "deployment_id": "model_a",
                "kind": "drift",
                "severity": "critical",
                "created_at": T0,
                "slack_status": "sent",
                "slack_attempts": 1,
                "slack_unconfirmed": False,
                "cloudwatch_status": "skipped",
                "cloudwatch_attempts": 0,
            },
        )
    engine.dispose()
