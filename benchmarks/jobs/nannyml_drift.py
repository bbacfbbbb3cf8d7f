"""NannyML: univariate drift of the 25 columns, fit on the reference, one production chunk."""

from __future__ import annotations

import argparse
import time

import nannyml

from benchmarks.data import CATEGORICAL, FEATURES, NUMERICAL
from benchmarks.jobs.common import load, report

METHODS = {
    "ks_chi2": (["kolmogorov_smirnov"], ["chi2"]),
    "jensen_shannon": (["jensen_shannon"], ["jensen_shannon"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reference")
    parser.add_argument("production")
    parser.add_argument("--methods", choices=sorted(METHODS), default="ks_chi2")
    args = parser.parse_args()
    reference, production, loaded = load(args)
    continuous, categorical = METHODS[args.methods]
    start = time.perf_counter()
    calculator = nannyml.UnivariateDriftCalculator(
        column_names=FEATURES,
        treat_as_numerical=NUMERICAL,
        treat_as_categorical=CATEGORICAL,
        continuous_methods=continuous,
        categorical_methods=categorical,
        chunk_number=1,
    )
    results = calculator.fit(reference).calculate(production).to_df()
    report(
        **loaded,
        seconds=time.perf_counter() - start,
        result_rows=len(results),
    )


if __name__ == "__main__":
    main()
