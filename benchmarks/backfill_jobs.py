"""Part 5's extra job: the hourly assets without their great-expectations checks.

``UNCHECKED_JOB`` is what a user gets by launching a backfill of ``hourly_aggregates`` and
``drift_scores`` from the UI with the asset checks deselected: the asset sees no selected
check keys and skips validation.
"""

from __future__ import annotations

import dagster as dg

UNCHECKED_JOB = "hourly_monitoring_without_checks"


def with_unchecked_job(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` plus a job over the hourly assets whose selection excludes their checks."""
    job = dg.define_asset_job(
        UNCHECKED_JOB,
        selection=dg.AssetSelection.assets("hourly_aggregates", "drift_scores").without_checks(),
    )
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
