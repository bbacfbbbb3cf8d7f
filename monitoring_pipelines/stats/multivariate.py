"""Multivariate drift by data reconstruction, as NannyML does: a change in how columns move
together that leaves every column's own distribution as it was.

Fit once (with the baseline): each feature is encoded as a number (a numerical column as is,
a categorical one as its category's share of the reference, 0 for a category never seen),
missing values imputed (the mean, or the most frequent category's share), standardized, and
a PCA keeps the fewest components that explain ``variance`` (65 %) of the variance. A row's
reconstruction error is the Euclidean distance between its standardized vector and its
projection on those components: rows that follow the reference's correlations are
reconstructed well, rows that break them are not.

The model is fitted on a random half of the reference and the other half gives the reference
errors: PCA reconstructs the rows it was fitted on better than new rows, so in-sample errors
would make every production window look drifted. The held-out rows, in their reference order,
are cut into ``chunks`` contiguous chunks; the variance of the chunk means beyond what row
sampling explains (``between``) is the period-to-period variation a window also has.

Score many (every hour): the errors of a window's rows are profiled like a numerical column
(``__multivariate__``: histogram on the reference errors' edges, count, mean, M2), so hours
merge exactly into days and weeks, and the window's mean error is judged by
``reconstruction_error`` against the reference's mean ± 3 σ of a window of its size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from threading import Lock
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from monitoring_pipelines.stats.binning import DEFAULT_BINS
from monitoring_pipelines.stats.dataset import MULTIVARIATE, Columns
from monitoring_pipelines.stats.drift import DriftResult, score_column
from monitoring_pipelines.stats.profile import (
    Kind,
    NumericalProfile,
    category_key,
    fit_numerical,
    to_float,
)

METRIC = "reconstruction_error"
DEFAULT_VARIANCE = 0.65
DEFAULT_CHUNKS = 10
MIN_REFERENCE_ROWS = 10
BLOCK_ROWS = 1 << 16  # rows standardized and projected at a time: bounded memory
# held while the errors' products run on one BLAS thread: the limit is process-wide, so two
# threads computing errors at once must not restore each other's setting in the wrong order
_ONE_BLAS_THREAD = Lock()
# the detail an alert shows: the window's mean error, the reference's and the band around it
MULTIVARIATE_BAND = ("mean_error", "reference_mean", "lower", "upper", "components", "columns")


class MultivariateUnavailable(ValueError):
    """The reference cannot give a reconstruction model (too few rows or usable columns)."""


@dataclass(frozen=True)
class Encoding:
    """How one column becomes a standardized number: (encoded, or ``fill`` when missing −
    ``center``) / ``scale``; a categorical column is encoded by ``frequencies``."""

    name: str
    kind: Kind
    center: float
    scale: float
    fill: float
    frequencies: Mapping[str, float] | None = None


@dataclass(frozen=True, eq=False)
class ReconstructionModel:
    """The fitted PCA (``components``: k × d, orthonormal rows) and the reference's chunks."""

    columns: tuple[Encoding, ...]
    components: np.ndarray
    variance: float
    explained: float
    between: float
    chunk_means: tuple[float, ...]
    chunk_rows: int
    dropped: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def errors(self, frame: pd.DataFrame | Columns) -> np.ndarray:
        """Each row's reconstruction error, computed in blocks of :data:`BLOCK_ROWS` rows (of a
        DataFrame, or of a chunk read straight into arrays: the same errors)."""
        return reconstruction_errors(self.columns, self.components, frame)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the baseline)."""
        return {
            "columns": [
                {
                    "name": c.name,
                    "kind": c.kind.value,
                    "center": c.center,
                    "scale": c.scale,
                    "fill": c.fill,
                    "frequencies": None if c.frequencies is None else dict(c.frequencies),
                }
                for c in self.columns
            ],
            "components": self.components.tolist(),
            "variance": self.variance,
            "explained": self.explained,
            "between": self.between,
            "chunk_means": list(self.chunk_means),
            "chunk_rows": self.chunk_rows,
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReconstructionModel:
        columns = tuple(
            Encoding(
                name=c["name"],
                kind=Kind(c["kind"]),
                center=float(c["center"]),
                scale=float(c["scale"]),
                fill=float(c["fill"]),
                frequencies=c["frequencies"],
            )
            for c in data["columns"]
        )
        components = np.asarray(data["components"], dtype=np.float64).reshape(-1, len(columns))
        return cls(
            columns=columns,
            components=components,
            variance=float(data["variance"]),
            explained=float(data["explained"]),
            between=float(data["between"]),
            chunk_means=tuple(float(m) for m in data["chunk_means"]),
            chunk_rows=int(data["chunk_rows"]),
            dropped=dict(data["dropped"]),
        )


def fit_reconstruction(
    frame: pd.DataFrame,
    kinds: Mapping[str, Kind | str],
    *,
    variance: float = DEFAULT_VARIANCE,
    chunks: int = DEFAULT_CHUNKS,
    n_bins: int = DEFAULT_BINS,
    rng: np.random.Generator | None = None,
) -> tuple[ReconstructionModel, NumericalProfile]:
    """The model and the baseline profile of the held-out reference rows' errors.

    Raises :class:`MultivariateUnavailable` saying why when there is nothing to fit: fewer
    than :data:`MIN_REFERENCE_ROWS` rows, fewer than two columns with varying values, or a
    share of variance that needs every component (every row reconstructed exactly).
    """
    if not 0.0 < variance < 1.0:
        raise ValueError(f"variance must be a share in (0, 1), got {variance!r}")
    if chunks < 2:
        raise ValueError(f"chunks must be at least 2, got {chunks!r}")
    if len(frame) < MIN_REFERENCE_ROWS:
        raise MultivariateUnavailable(
            f"the reference has {len(frame)} row(s); a reconstruction model needs at least "
            f"{MIN_REFERENCE_ROWS}"
        )
    rng = rng if rng is not None else np.random.default_rng(0)
    order = rng.permutation(len(frame))
    fit_rows = frame.iloc[np.sort(order[: len(order) // 2])]
    held_rows = frame.iloc[np.sort(order[len(order) // 2 :])]
    columns, dropped = _encodings(fit_rows, kinds)
    if len(columns) < 2:
        raise MultivariateUnavailable(
            f"{len(columns)} column(s) with varying values (dropped: {dropped or 'none'}); "
            "a reconstruction model needs at least 2"
        )
    components, explained = _principal_components(_covariance(columns, fit_rows), variance)
    if components.shape[0] >= len(columns):
        raise MultivariateUnavailable(
            f"keeping {variance:.0%} of the variance takes all {len(columns)} components: every "
            "row would be reconstructed exactly (lower drift.multivariate.variance)"
        )
    errors = reconstruction_errors(columns, components, held_rows)
    parts = np.array_split(errors, min(chunks, errors.size))
    means = np.array([p.mean() for p in parts])
    rows = errors.size / len(parts)
    between = max(0.0, float(np.var(means, ddof=1)) - float(np.var(errors)) / rows)
    model = ReconstructionModel(
        columns=tuple(columns),
        components=components,
        variance=float(variance),
        explained=explained,
        between=between,
        chunk_means=tuple(float(m) for m in means),
        chunk_rows=round(rows),
        dropped=dropped,
    )
    return model, fit_numerical(errors, n_bins)


def score_multivariate(
    model: ReconstructionModel,
    reference: NumericalProfile,
    current: NumericalProfile | None,
    *,
    threshold: float | None = None,
    min_rows: int = 1,
) -> DriftResult:
    """``reconstruction_error`` of a window, with the band it is judged by in its detail
    (a window without an error profile, e.g. of zero rows, is insufficient data)."""
    current = current if current is not None else reference.like(np.empty(0))
    result = score_column(
        METRIC, reference, current, threshold=threshold, min_rows=min_rows, between=model.between
    )
    detail = dict(result.detail) | {
        "components": int(model.components.shape[0]),
        "columns": len(model.columns),
        "explained_variance": model.explained,
    }
    if "sigma" in detail:
        margin = result.threshold * detail["sigma"]
        detail |= {"lower": reference.mean - margin, "upper": reference.mean + margin}
    return replace(result, detail=detail)


def with_multivariate(
    scores: dict[str, tuple[DriftResult, ...]],
    model: ReconstructionModel | None,
    reference: NumericalProfile | None,
    current: NumericalProfile | None,
    *,
    threshold: float | None = None,
    min_rows: int = 1,
) -> dict[str, tuple[DriftResult, ...]]:
    """The column scores plus ``__multivariate__`` when the baseline has a model."""
    if model is None or reference is None:
        return scores
    result = score_multivariate(model, reference, current, threshold=threshold, min_rows=min_rows)
    return {**scores, MULTIVARIATE: (result,)}


def reconstruction_errors(
    columns: Sequence[Encoding], components: np.ndarray, frame: pd.DataFrame | Columns
) -> np.ndarray:
    """Each row's distance to its projection on ``components`` (k × d), standardized and
    projected :data:`BLOCK_ROWS` rows at a time: ‖P z‖ with P = I − VᵀV.

    The products run on one BLAS thread: a d × d by d × 10,000 product is too small to share,
    and OpenBLAS's second thread only spun on a core the profiling threads wanted (an hour's
    product 1.6 ms on one thread, 6.7 ms on two, at load 8); the errors are the same bits."""
    frame = frame if isinstance(frame, Columns) else Columns.of(frame)
    out = np.empty(frame.rows)
    with _ONE_BLAS_THREAD, _blas().limit(limits=1):
        complement = np.eye(len(columns)) - components.T @ components
        for start, block in _standardized_blocks(columns, frame):
            residual = complement @ block
            out[start : start + block.shape[1]] = np.sqrt(np.einsum("ij,ij->j", residual, residual))
    return out


@cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries, looked up once (a lookup scans every loaded library)."""
    return ThreadpoolController().select(user_api="blas")


def _standardized_blocks(
    columns: Sequence[Encoding], frame: Columns
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, d × b standardized block) for blocks of :data:`BLOCK_ROWS` rows; each
    column is converted once (a categorical one to codes into its table of shares)."""
    sources = [_source(column, frame) for column in columns]
    block = np.empty((len(columns), min(frame.rows, BLOCK_ROWS)))
    for start in range(0, frame.rows, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, frame.rows)
        z = block[:, : stop - start]
        for row, column, (values, table) in zip(z, columns, sources, strict=True):
            filled = (column.fill - column.center) / column.scale
            if values is None:
                row[:] = filled
            elif table is None:
                np.subtract(values[start:stop], column.center, out=row)
                row *= 1.0 / column.scale
                row[~np.isfinite(row)] = filled
            else:
                np.take(table, values[start:stop], out=row)  # shares already standardized
        yield start, z


def _source(column: Encoding, frame: Columns) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A numerical column as float64 (NaN where missing or not a number), or a categorical
    one as codes into its table of standardized shares (the last entry, code −1, is the
    missing fill)."""
    if column.name not in frame.values:
        return None, None
    values = frame.values[column.name]
    if column.kind is Kind.NUMERICAL:
        return to_float(values)[0], None
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        # a dictionary-encoded column (Arrow strings): its codes as they are, no factorize
        codes, uniques = values.cat.codes.to_numpy().astype(np.intp), values.cat.categories
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    shares = column.frequencies or {}
    keys = uniques.tolist() if _strings(uniques) else [category_key(u) for u in uniques]
    table = np.array([shares.get(key, 0.0) for key in keys] + [column.fill])
    return codes, (table - column.center) / column.scale


def _strings(uniques: pd.Index | np.ndarray) -> bool:
    """Whether every value is a string (then it is its own category key)."""
    return isinstance(uniques, pd.Index) and pd.api.types.infer_dtype(uniques) == "string"


def _covariance(columns: Sequence[Encoding], frame: pd.DataFrame) -> np.ndarray:
    """ZᵀZ / n of the standardized rows, summed block by block."""
    total = np.zeros((len(columns), len(columns)))
    for _, block in _standardized_blocks(columns, Columns.of(frame)):
        total += block @ block.T
    return total / len(frame)


def _encodings(
    frame: pd.DataFrame, kinds: Mapping[str, Kind | str]
) -> tuple[list[Encoding], dict[str, str]]:
    """Each column's encoding learned from the fit rows; columns that cannot be standardized
    (all missing, or one value) are dropped with the reason."""
    columns, dropped = [], {}
    for name, kind in kinds.items():
        kind = Kind(kind)
        values = frame[name] if name in frame.columns else None
        frequencies = _frequencies(values) if kind is Kind.CATEGORICAL else None
        x = _encoded(values, len(frame), kind, frequencies)
        present = x[~np.isnan(x)]
        if present.size == 0:
            dropped[name] = "all values missing"
            continue
        # the mean, or the most frequent category's share
        fill = max(frequencies.values()) if kind is Kind.CATEGORICAL else float(present.mean())
        x[np.isnan(x)] = fill
        center, scale = float(x.mean()), float(x.std())
        if not scale > 1e-12 * max(1.0, abs(center)):
            dropped[name] = "constant"
            continue
        columns.append(Encoding(name, kind, center, scale, float(fill), frequencies))
    return columns, dropped


def _frequencies(values: pd.Series | None) -> dict[str, float]:
    """Each category's share of the non-missing values (keys as ``category_key``)."""
    if values is None:
        return {}
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    shares: dict[str, float] = {}
    total = counts.sum()
    for value, n in zip(uniques, counts, strict=True):
        key = category_key(value)
        shares[key] = shares.get(key, 0.0) + float(n) / total
    return shares


def _encoded(
    values: pd.Series | None, n: int, kind: Kind, frequencies: Mapping[str, float] | None
) -> np.ndarray:
    """A column as float64, NaN where missing (or not finite, or not a number)."""
    if values is None:
        return np.full(n, np.nan)
    if kind is Kind.NUMERICAL:
        x = to_float(values)[0].copy()
        x[~np.isfinite(x)] = np.nan
        return x
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([(frequencies or {}).get(category_key(u), 0.0) for u in uniques] + [np.nan])
    return table[codes]  # code -1 (missing) takes the appended NaN


def _principal_components(covariance: np.ndarray, variance: float) -> tuple[np.ndarray, float]:
    """The fewest leading eigenvectors of ``covariance`` that explain ``variance`` of its
    total, and the share they explain."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    shares = np.cumsum(eigenvalues) / eigenvalues.sum()
    k = int(np.searchsorted(shares, variance - 1e-12) + 1)
    return eigenvectors[:, order[:k]].T.copy(), float(shares[k - 1])
