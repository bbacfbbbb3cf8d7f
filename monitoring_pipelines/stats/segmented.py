"""Segmented profiling: every segment of a window profiled in the same read as the population.

Each chunk's rows get a segment code (one factorization of the key columns); each column
is then counted once for all segments together, into per-segment accumulators: numerical
columns by the segmented kernel (:mod:`~monitoring_pipelines.stats.segment_kernel`),
categorical ones by one bincount over (segment, category) pairs. So the cost is one pass per
column and key, never one per segment. The population is the sum of any key's segments, so
segment profiles merge to the population's exactly (counts; moments by Chan's formula).

A key keeps at most ``max_values`` segment values per window: those of smallest rank, a fixed
64-bit hash of the segment's name (:func:`_ranks`), so a value kept in the window is kept in
every chunk that holds it and the result does not depend on the chunking. A value pushed
out by one of smaller rank has its rows moved into ``__other__``. The accumulators stay
bounded by the cap however many distinct values the traffic holds (the folded values are
remembered by their 8-byte ranks only, to count them exactly for the window's notice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from monitoring_pipelines.stats import segment_kernel
from monitoring_pipelines.stats.bin_table import table_for
from monitoring_pipelines.stats.dataset import DatasetProfile, _pool, reference_categories
from monitoring_pipelines.stats.kernel import _positions
from monitoring_pipelines.stats.profile import (
    _UNSTORABLE,
    CategoricalProfile,
    NumericalProfile,
    _added,
    _cap,
    category_key,
    storable,
)
from monitoring_pipelines.stats.segments import MISSING, OTHER, RESERVED, SegmentKey

_GROW = 8


@dataclass(frozen=True)
class Folding:
    """What a key's cap did in a window: segment values kept, and the rows and distinct
    values folded into ``<key>=__other__``."""

    key: str
    kept: int
    folded_rows: int
    folded_values: int
    max_values: int

    @property
    def notice(self) -> str | None:
        """One line for logs and metadata, or None when nothing was folded."""
        if not self.folded_values:
            return None
        return (
            f"segment key {self.key}: {self.kept + self.folded_values:,} values in the window, "
            f"{self.kept:,} kept (max_values {self.max_values}), {self.folded_values:,} "
            f"folded into {self.key}=__other__ ({self.folded_rows:,} rows)"
        )


@dataclass(frozen=True, eq=False)
class SegmentedProfile:
    """A window's population profile, each segment's profile, and each key's folding."""

    population: DatasetProfile
    segments: dict[str, DatasetProfile]
    folding: tuple[Folding, ...]


def _floats(values: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 values (NaN for missing) and the mask of present non-numbers (None: none)."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan), None
    numeric = pd.to_numeric(values.astype(object), errors="coerce")
    x = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    return x, values.notna().to_numpy() & np.isnan(x)


class _Numerical:
    """Per-segment accumulators of one numerical column (rows = segment slots)."""

    def __init__(self, reference: NumericalProfile):
        self.reference = reference
        self.edges = reference.edges
        self.table = table_for(reference.edges)
        self.refs = None
        if reference.values is not None:
            self.refs = reference.reference_values or tuple(reference.values)
        self.refpos = None if self.refs is None else _positions(self.edges.tobytes(), self.refs)
        self.ref_bins = None if self.refpos is None else self.refpos >= 0
        bins = self.edges.size - 1
        self.counts = np.zeros((0, bins), np.int64)
        self.hits = np.zeros((0, bins), np.int64)
        self.ints = np.zeros((5, 0), np.int64)  # missing, +inf, -inf, n, invalid
        self.floats = np.zeros((5, 0), np.float64)  # shift, s1, s2, min, max
        self.new: list[dict[float, int]] = []

    def grow(self, slots: int) -> None:
        extra = slots - self.counts.shape[0]
        if extra <= 0:
            return
        bins = self.counts.shape[1]
        self.counts = np.vstack([self.counts, np.zeros((extra, bins), np.int64)])
        self.hits = np.vstack([self.hits, np.zeros((extra, bins), np.int64)])
        self.ints = np.hstack([self.ints, np.zeros((5, extra), np.int64)])
        fresh = np.zeros((5, extra))
        fresh[3], fresh[4] = np.inf, -np.inf
        self.floats = np.hstack([self.floats, fresh])
        self.new += [{} for _ in range(extra)]

    def add(self, values: pd.Series | None, codes: np.ndarray) -> None:
        if values is None:
            self.ints[0] += np.bincount(codes, minlength=self.ints.shape[1])
            return
        x, invalid = _floats(values)
        x = np.ascontiguousarray(x)
        if invalid is not None:
            self.ints[4] += np.bincount(codes[invalid], minlength=self.ints.shape[1])
        discrete = self.refs is not None
        hits_before = self._known()
        n_before = self.ints[3].copy()
        acc = (
            self.counts,
            self.hits,
            self.ints[0],
            self.ints[1],
            self.ints[2],
            self.ints[3],
            self.floats[0],
            self.floats[1],
            self.floats[2],
            self.floats[3],
            self.floats[4],
        )
        kernel = segment_kernel.compiled()
        if kernel is None:
            segment_kernel.count_numpy(x, codes, self.edges, discrete, acc)
        else:
            loop = kernel.discrete if discrete else kernel.continuous
            t = self.table
            loop(x, codes, t.lead, t.top, t.sub, acc)
        if discrete:
            self._new_values(x, codes, self._known() - hits_before, n_before)

    def _known(self) -> np.ndarray:
        """Per slot, the finite values counted exactly so far (hits of baseline values' bins)."""
        if self.ref_bins is None:
            return np.zeros(self.hits.shape[0], np.int64)
        return self.hits[:, self.ref_bins].sum(axis=1)

    def _new_values(self, x, codes, known, n_before) -> None:
        """Exact counts of the values the baseline did not have (rare on a discrete one)."""
        if np.array_equal(known, self.ints[3] - n_before):
            return
        mask = np.isfinite(x)
        if self.refpos is not None:
            mask &= ~np.isin(x, self.refs)
        for slot in np.unique(codes[mask]):
            new, runs = np.unique(x[mask & (codes == slot)] + 0.0, return_counts=True)
            merged = _added(self.new[slot], dict(zip(new.tolist(), runs.tolist(), strict=True)))
            self.new[slot] = _cap(merged, self.refs, self.reference.max_values)[0]

    def fold(self, source: int, target: int) -> None:
        """Move slot ``source``'s counts into slot ``target`` and empty ``source``."""
        self.counts[target] += self.counts[source]
        self.hits[target] += self.hits[source]
        n_s, n_t = self.ints[3, source], self.ints[3, target]
        if n_s:
            mean_s, m2_s = self._moments(source)
            if n_t:
                mean_t, m2_t = self._moments(target)
                n = n_t + n_s
                delta = mean_s - mean_t
                mean, m2 = mean_t + delta * n_s / n, m2_t + m2_s + delta * delta * n_t * n_s / n
                shift = self.floats[0, target]
            else:
                n, mean, m2, shift = n_s, mean_s, m2_s, mean_s
            offset = mean - shift
            self.floats[0, target] = shift
            self.floats[1, target] = n * offset
            self.floats[2, target] = m2 + n * offset * offset
        self.ints[:, target] += self.ints[:, source]
        self.floats[3, target] = min(self.floats[3, target], self.floats[3, source])
        self.floats[4, target] = max(self.floats[4, target], self.floats[4, source])
        self.new[target] = _added(self.new[target], self.new[source])
        self.clear(source)

    def clear(self, slot: int) -> None:
        self.counts[slot] = 0
        self.hits[slot] = 0
        self.ints[:, slot] = 0
        self.floats[:, slot] = (0.0, 0.0, 0.0, np.inf, -np.inf)
        self.new[slot] = {}

    def _moments(self, slot) -> tuple[float, float]:
        n = self.ints[3, slot]
        s1, s2 = self.floats[1, slot], self.floats[2, slot]
        return float(self.floats[0, slot] + s1 / n), float(max(s2 - s1 * s1 / n, 0.0))

    def profile(self, slots: Sequence[int]) -> NumericalProfile:
        """The profile of the union of ``slots`` (one segment, or all: the population)."""
        slots = np.asarray(slots, dtype=np.intp)
        ints = self.ints[:, slots]
        n = ints[3]
        total = int(n.sum())
        mean, m2, low, high = float("nan"), 0.0, float("nan"), float("nan")
        if total:
            full = n > 0
            shift, s1, s2 = (self.floats[i, slots][full] for i in range(3))
            k = n[full]
            means = shift + s1 / k
            m2s = np.maximum(s2 - s1 * s1 / k, 0.0)
            mean = float((k * means).sum() / total)
            m2 = float(m2s.sum() + (k * (means - mean) ** 2).sum())
            low = float(self.floats[3, slots].min())
            high = float(self.floats[4, slots].max())
        values, other = None, 0
        if self.refs is not None:
            exact: dict[float, int] = dict.fromkeys(self.refs, 0)
            if self.refpos is not None:
                hits = self.hits[slots].sum(axis=0)
                has = self.refpos >= 0
                counted = np.zeros(len(self.refs), np.int64)
                counted[self.refpos[has]] = hits[has]
                exact = dict(zip(self.refs, counted.tolist(), strict=True))
            for slot in slots:
                exact = _added(exact, self.new[slot])
            values, other = _cap(exact, self.refs, self.reference.max_values)
        return NumericalProfile(
            edges=self.edges,
            counts=self.counts[slots].sum(axis=0),
            missing=int(ints[0].sum() - ints[4].sum()),
            invalid=int(ints[4].sum()),
            pos_inf=int(ints[1].sum()),
            neg_inf=int(ints[2].sum()),
            n_finite=total,
            mean=mean,
            m2=m2,
            min=low,
            max=high,
            values=values,
            other=other,
            max_values=self.reference.max_values,
            reference_values=() if self.refs is None else tuple(self.refs),
        )


class _Categorical:
    """Per-segment counts of one categorical column: a table of segment slots × the window's
    category keys (missing first), capped per segment when profiled. When the table holds
    many more keys than the caps can keep, the keys no segment keeps are folded into each
    segment's ``other`` count (the hash cap only ever drops a key for good): bounded memory."""

    def __init__(self, reference: CategoricalProfile):
        self.categories = reference_categories(reference)
        self.cap = reference.max_categories
        self.index: dict[str, int] = {k: i for i, k in enumerate(self.categories)}
        self.table = np.zeros((0, 1 + len(self.categories)), np.int64)
        self.other = np.zeros(0, np.int64)
        self.replaced = np.zeros(len(self.categories), bool)
        self.limit = 4 * self.cap + len(self.categories)

    def grow(self, slots: int) -> None:
        extra = slots - self.table.shape[0]
        if extra > 0:
            self.table = np.vstack([self.table, np.zeros((extra, self.table.shape[1]), np.int64)])
            self.other = np.concatenate([self.other, np.zeros(extra, np.int64)])

    def add(self, values: pd.Series | None, codes: np.ndarray) -> None:
        n_slots = self.table.shape[0]
        if values is None:
            self.table[:, 0] += np.bincount(codes, minlength=n_slots)
            return
        keys, key_codes, replaced = _category_codes(values)
        ids = np.array([self.index.setdefault(k, len(self.index)) for k in keys], np.int64)
        width = len(self.index) + 1
        if width > self.table.shape[1]:
            grown = width - self.table.shape[1]
            self.table = np.hstack([self.table, np.zeros((n_slots, grown), np.int64)])
            self.replaced = np.concatenate([self.replaced, np.zeros(grown, bool)])
        self.replaced[ids[replaced]] = True
        cells = np.where(key_codes >= 0, ids[np.maximum(key_codes, 0)] + 1 if ids.size else 0, 0)
        flat = np.bincount(codes * width + cells, minlength=n_slots * width)
        self.table[:, :width] += flat.reshape(n_slots, width)
        if len(self.index) > self.limit:
            self._compact()

    def _kept(self, slot: int) -> np.ndarray:
        """Key columns (1-based) slot ``slot`` keeps under its cap."""
        row = self.table[slot, 1:]
        keys = list(self.index)
        counts = {keys[j]: int(row[j]) for j in np.flatnonzero(row)}
        kept, _ = _cap(dict.fromkeys(self.categories, 0) | counts, self.categories, self.cap)
        return np.array(sorted(self.index[k] + 1 for k in kept), np.int64)

    def _compact(self) -> None:
        """Fold the keys no segment keeps into each segment's ``other``; drop their columns."""
        keep = np.zeros(self.table.shape[1], bool)
        keep[0] = True
        keep[1 : 1 + len(self.categories)] = True
        for slot in np.flatnonzero(self.table.sum(axis=1)):
            keep[self._kept(slot)] = True
        self.other += self.table[:, ~keep].sum(axis=1)
        self.table = self.table[:, keep]
        self.replaced = self.replaced[keep[1:]]
        keys = [k for k, i in self.index.items() if keep[i + 1]]
        self.index = {k: i for i, k in enumerate(keys)}
        self.limit = max(self.limit, 2 * len(self.index))

    def fold(self, source: int, target: int) -> None:
        self.table[target] += self.table[source]
        self.other[target] += self.other[source]
        self.clear(source)

    def clear(self, slot: int) -> None:
        self.table[slot] = 0
        self.other[slot] = 0

    def profile(self, slots: Sequence[int]) -> CategoricalProfile:
        row = self.table[list(slots)].sum(axis=0)
        keys = list(self.index)
        counts = dict.fromkeys(self.categories, 0)
        counts |= {keys[j]: int(row[j + 1]) for j in np.flatnonzero(row[1:])}
        kept, folded = _cap(counts, self.categories, self.cap)
        return CategoricalProfile(
            counts=kept,
            missing=int(row[0]),
            other=int(self.other[list(slots)].sum()) + folded,
            max_categories=self.cap,
            reference_categories=self.categories,
            replaced=int(row[1:][self.replaced].sum()),
        )


def _factorized(values: pd.Series) -> tuple[np.ndarray, Sequence]:
    """Each row's index into the distinct values (-1 missing): a dictionary-encoded column's
    own codes (no hashing), else a factorization."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    return pd.factorize(values, use_na_sentinel=True)


def _category_codes(values: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The distinct category keys of a column, each row's key index (-1 missing), and which
    keys were respelled storable (as ``profile.profile_categorical`` counts them)."""
    codes, uniques = _factorized(values)
    spelled = [category_key(u) for u in np.asarray(uniques, dtype=object)]
    respelled = np.zeros(len(spelled), bool)
    if _UNSTORABLE.search("".join(spelled)):
        respelled = np.array([bool(_UNSTORABLE.search(k)) for k in spelled])
        spelled = [storable(k) for k in spelled]
    index: dict[str, int] = {}
    of_unique = np.array([index.setdefault(k, len(index)) for k in spelled], dtype=np.int64)
    replaced = np.zeros(len(index), bool)
    replaced[of_unique[respelled]] = True
    key_codes = np.where(codes >= 0, of_unique[np.maximum(codes, 0)] if len(spelled) else -1, -1)
    return list(index), key_codes.astype(np.int64), replaced


class _KeySlots:
    """One key's segment slots in a window: labels, the cap, and the folded counts."""

    def __init__(self, key: SegmentKey, reference: DatasetProfile):
        self.key = key
        self.slot: dict[str, int] = {}
        self.free: list[int] = []
        self.rows = np.zeros(0, np.int64)
        self.kept: dict[str, np.uint64] = {}  # kept segment values and their ranks
        self.folded_rows = 0
        self.folded = np.zeros(0, np.uint64)  # ranks of the folded values: 8 bytes each
        self.evicted: list[int] = []
        self.columns = {
            name: _Numerical(p) if isinstance(p, NumericalProfile) else _Categorical(p)
            for name, p in reference.columns.items()
        }

    def _slot_of(self, label: str) -> int:
        if label not in self.slot:
            if self.free:
                self.slot[label] = self.free.pop()
            else:
                self.slot[label] = len(self.slot) + len(self.free)
                if self.slot[label] >= self.rows.size:
                    size = self.slot[label] + _GROW
                    self.rows = np.concatenate([self.rows, np.zeros(size - self.rows.size, int)])
                    for column in self.columns.values():
                        column.grow(size)
        return self.slot[label]

    def _fold_out(self, label: str, rank: np.uint64) -> None:
        """Move a kept value's rows into ``__other__`` (a value of smaller rank took its place)."""
        source, target = self.slot.pop(label), self._slot_of(self.key.folded_label())
        for column in self.columns.values():
            column.fold(source, target)
        self.rows[target] += self.rows[source]
        self.folded_rows += int(self.rows[source])
        self.rows[source] = 0
        self.evicted.append(rank)
        self.free.append(source)

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's slot, after the cap has seen this chunk's values."""
        labels, row_codes = _labels(frame, self.key)
        rows = np.bincount(row_codes, minlength=len(labels))
        names = np.array([name for _, name in labels], dtype=object)
        present = rows > 0
        capped = present & ~np.array([all(v in RESERVED for v in vs) for vs, _ in labels], bool)
        ranks = _ranks(names)
        fresh = [i for i in np.flatnonzero(capped) if names[i] not in self.kept]
        if len(self.kept) + len(fresh) > self.key.max_values:
            pool = {**self.kept, **{names[i]: ranks[i] for i in fresh}}
            ordered = sorted(pool.items(), key=lambda item: (int(item[1]), item[0]))
            keep = dict(ordered[: self.key.max_values])
            for label in sorted(set(self.kept) - set(keep)):
                self._fold_out(label, self.kept[label])
            self.kept = keep
        else:
            self.kept |= {names[i]: ranks[i] for i in fresh}
        kept = present & ~capped | np.array([n in self.kept for n in names], bool) & present
        newly = [np.asarray(self.evicted, np.uint64)]
        self.evicted = []
        to_slot = np.zeros(len(labels), np.int64)
        for i in np.flatnonzero(kept):
            to_slot[i] = self._slot_of(names[i])
        folded = present & ~kept
        if folded.any():
            to_slot[folded] = self._slot_of(self.key.folded_label())
            self.folded_rows += int(rows[folded].sum())
            newly.append(ranks[folded])
        self.folded = _distinct(np.concatenate([self.folded, *newly]))
        slots = to_slot[row_codes]
        self.rows += np.bincount(slots, minlength=self.rows.size)
        return slots

    def folding(self) -> Folding:
        return Folding(
            self.key.name, len(self.kept), self.folded_rows, len(self.folded), self.key.max_values
        )

    def profiles(self, template: DatasetProfile) -> dict[str, DatasetProfile]:
        """Each segment's profile, segments in name order."""
        return {
            label: replace(
                template,
                row_count=int(self.rows[slot]),
                columns={n: c.profile([slot]) for n, c in self.columns.items()},
                multivariate=None,
            )
            for label, slot in sorted(self.slot.items())
        }

    def population(self) -> dict:
        slots = sorted(self.slot.values())
        return {name: column.profile(slots) for name, column in self.columns.items()}


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (one sort; cheaper than ``np.union1d`` on the way here)."""
    values.sort()
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


def _ranks(labels: np.ndarray) -> np.ndarray:
    """The order in which segment values are kept under the cap: a fixed 64-bit hash of the
    label (pandas' SipHash with its fixed key: the same in every process and chunking)."""
    return pd.util.hash_array(labels, categorize=False)


def _labels(frame: pd.DataFrame, key: SegmentKey) -> tuple[list[tuple[tuple, str]], np.ndarray]:
    """The chunk's distinct segments ((values, label) each) and each row's index into them."""
    parts = []
    for column in key.columns:
        values = frame[column] if column in frame.columns else pd.Series(np.full(len(frame), None))
        codes, uniques = _factorized(values)
        spelled = [storable(category_key(u)) for u in np.asarray(uniques, dtype=object)]
        if key.values is not None:
            spelled = [key.values.get(v, OTHER) for v in spelled]
        parts.append((codes, [*spelled, MISSING]))  # code -1 (missing) takes the last entry
    if len(parts) == 1:  # one column: its codes are the segments' (no second factorization)
        codes, spelled = parts[0]
        row_codes = np.where(codes < 0, len(spelled) - 1, codes).astype(np.int64)
        prefix = f"{key.columns[0]}="
        return [((v,), prefix + v) for v in spelled], row_codes
    combined = np.zeros(len(frame), np.int64)
    for codes, spelled in parts:
        combined = combined * len(spelled) + np.where(codes < 0, len(spelled) - 1, codes)
    row_codes, uniques = pd.factorize(combined)
    labels = []
    for value in uniques.tolist():
        values = []
        for _, spelled in reversed(parts):
            value, at = divmod(value, len(spelled))
            values.append(spelled[at])
        values = tuple(reversed(values))
        labels.append((values, key.label(values)))
    return labels, row_codes.astype(np.int64)


def profile_segmented_chunks(
    chunks: Iterable[pd.DataFrame],
    reference: DatasetProfile,
    keys: Sequence[SegmentKey],
    threads: int = 1,
    errors: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SegmentedProfile:
    """Profile a stream of chunks for the population and every segment of ``keys`` at once,
    one chunk in memory at a time; ``errors`` as in ``dataset.profile_chunks``."""
    if not keys:
        raise ValueError("profile_segmented_chunks needs at least one segment key")
    slots = [_KeySlots(key, reference) for key in keys]
    segment_columns = {c for key in keys for c in key.columns}
    rows, absent, extra = 0, set(), set()
    multivariate = None
    if errors is not None and reference.multivariate is not None:
        multivariate = reference.multivariate.like(np.empty(0))
    for chunk in chunks:
        rows += len(chunk)
        absent |= {name for name in reference.columns if name not in chunk.columns}
        extra |= set(chunk.columns) - set(reference.columns) - segment_columns
        for key_slots in slots:
            codes = key_slots.codes(chunk)
            work = [
                (column, chunk[name] if name in chunk.columns else None)
                for name, column in key_slots.columns.items()
            ]
            if threads > 1 and len(work) > 1:
                pool = _pool(min(threads, len(work)))
                list(pool.map(lambda w, c=codes: w[0].add(w[1], c), work))
            else:
                for column, values in work:
                    column.add(values, codes)
        if multivariate is not None:
            multivariate = multivariate.merge(reference.multivariate.like(errors(chunk)))
    template = DatasetProfile(
        row_count=rows,
        columns={},
        absent_columns=tuple(name for name in reference.columns if name in absent),
        extra_columns=tuple(sorted(extra)),
    )
    population = replace(template, columns=slots[0].population(), multivariate=multivariate)
    segments: dict[str, DatasetProfile] = {}
    for key_slots in slots:
        segments |= key_slots.profiles(template)
    return SegmentedProfile(population, segments, tuple(s.folding() for s in slots))


def row_segments(frame: pd.DataFrame, key: SegmentKey) -> tuple[np.ndarray, Folding]:
    """Each row's segment name under ``key`` for a whole window held at once (the hour's
    predictions), capped as the aggregation caps it: the ``max_values`` segment values of
    smallest rank are kept, the rest fold into ``<key>=__other__``; and what the cap did."""
    labels, row_codes = _labels(frame, key)
    names = np.array([name for _, name in labels], dtype=object)
    present = np.bincount(row_codes, minlength=len(labels)) > 0
    capped = present & ~np.array([all(v in RESERVED for v in vs) for vs, _ in labels], bool)
    ranks = _ranks(names) if names.size else np.zeros(0, np.uint64)
    pool = {names[i]: int(ranks[i]) for i in np.flatnonzero(capped)}
    ordered = sorted(pool.items(), key=lambda item: (item[1], item[0]))
    kept = {name for name, _ in ordered[: key.max_values]}
    folded = capped & ~np.array([n in kept for n in names], bool)
    names[folded] = key.folded_label()
    rows = names[row_codes]
    folding = Folding(
        key.name,
        len(kept),
        int(np.isin(row_codes, np.flatnonzero(folded)).sum()),
        len(pool) - len(kept),
        key.max_values,
    )
    return rows, folding
