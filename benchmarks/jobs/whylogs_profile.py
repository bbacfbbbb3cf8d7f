"""whylogs: profile the production rows (its profiles hold counts, types, KLL sketches)."""

from __future__ import annotations

import time

import whylogs

from benchmarks.jobs.common import arguments, load, report


def main() -> None:
    _, production, loaded = load(arguments(__doc__))
    start = time.perf_counter()
    view = whylogs.log(production).view()
    summary = view.to_pandas()
    report(
        **loaded,
        seconds=time.perf_counter() - start,
        columns=len(summary),
    )


if __name__ == "__main__":
    main()
