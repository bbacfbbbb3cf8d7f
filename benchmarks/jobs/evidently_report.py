"""Evidently 0.7: the data drift preset over the 25 columns, reference vs production."""

from __future__ import annotations

import time

from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from benchmarks.data import CATEGORICAL, NUMERICAL
from benchmarks.jobs.common import arguments, load, report


def main() -> None:
    reference, production, loaded = load(arguments(__doc__))
    start = time.perf_counter()
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(production, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    report(
        **loaded,
        seconds=time.perf_counter() - start,
        metrics=len(result["metrics"]),
    )


if __name__ == "__main__":
    main()
