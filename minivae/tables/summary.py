"""One pass over a column of a table: the counts, the range and a uniform sample that fitting its encoding needs.

A table larger than memory is read once, batch by batch; for each column ``ColumnSummary.update`` keeps what the
encoder (``minivae.tables.columns``) decides from: the rows and the nulls, the smallest and largest value, whether
every value is a whole number, the distinct values with their counts while there are at most ``max_distinct`` of
them, and a uniform sample of ``size`` values without replacement (reservoir sampling, Vitter's algorithm R), drawn
from a seeded generator so that the fit is repeatable bit for bit.

Memory: O(size + max_distinct) per column, whatever the number of rows.
"""
import math

import numpy as np

RESERVOIR = 20_000  # values sampled per column to fit the transforms: a relative error of about 1% on their spread
MAX_DECIMALS = 6  # a column whose values need more decimal places than this is not rounded on decoding


class ColumnSummary:
    """What one pass over a column keeps: counts, min, max, integrality, the distinct values while they are few
    (value -> count; None once there are more than max_distinct), and a uniform sample of ``size`` values."""

    def __init__(self, name, kind, rng, max_distinct, size=RESERVOIR):
        self.name, self.kind, self.rng = name, kind, rng  # kind: "number" (float64, NaN = null) or "text"
        self.rows = self.nulls = self.present = 0
        self.low, self.high, self.whole = math.inf, -math.inf, True
        self.decimals = 0  # the fewest decimal places that write every value exactly (None: more than MAX_DECIMALS)
        self.distinct, self.max_distinct = {}, max_distinct
        self.sample, self.size = np.zeros(0), size  # the sample: an array of at most size values

    def update(self, values):
        """Add one batch of the column's values (1-D)."""
        values = np.asarray(values, dtype=np.float64 if self.kind == "number" else object)
        if self.kind == "number":
            kept = values[~np.isnan(values)]
            if len(kept) and not np.isfinite(kept).all():
                raise ValueError(f"column {self.name!r} holds an infinite value; replace it or drop its rows")
            if len(kept):
                self.low, self.high = min(self.low, float(kept.min())), max(self.high, float(kept.max()))
                self.whole = self.whole and bool((kept == np.round(kept)).all())
                self.decimals = decimal_places(kept, self.decimals)
        else:
            kept = values[values != None]  # noqa: E711 (elementwise on an object array)
        self.rows, self.nulls = self.rows + len(values), self.nulls + len(values) - len(kept)
        if self.distinct is not None and len(kept):
            uniques, counts = np.unique(kept, return_counts=True)
            for value, count in zip(uniques.tolist(), counts.tolist()):
                self.distinct[value] = self.distinct.get(value, 0) + count
            if len(self.distinct) > self.max_distinct:
                self.distinct = None
        self._add_to_sample(kept)

    def _add_to_sample(self, kept):
        """Algorithm R: the value at stream position i (0-based) takes a uniform slot j in [0, i] and stays if j <
        size, so that after n values every one of them is in the sample with probability size / n. Within a batch,
        a slot taken twice keeps the later value, as the one-by-one algorithm would."""
        room = max(0, self.size - len(self.sample))
        if room:
            self.sample = np.concatenate([np.asarray(self.sample, dtype=kept.dtype), kept[:room]])
        rest = kept[room:]
        if len(rest):
            positions = self.present + room + np.arange(len(rest))
            slots = np.floor(self.rng.random(len(rest)) * (positions + 1)).astype(np.int64)
            taken = np.flatnonzero(slots < self.size)
            last = len(taken) - 1 - np.unique(slots[taken][::-1], return_index=True)[1]  # the last of each slot
            self.sample[slots[taken[last]]] = rest[taken[last]]
        self.present += len(kept)


def decimal_places(values, at_least=0):
    """The fewest d >= at_least (up to MAX_DECIMALS; None beyond, or if at_least is None) such that every value is
    a multiple of 10^-d, up to float64's rounding: |v 10^d - round(v 10^d)| <= 1e-9 max(1, |v 10^d|).

    Example
    -------
    >>> decimal_places(np.array([12.5, 3.25, 7.0]))
    2
    """
    if at_least is None:
        return None
    for d in range(at_least, MAX_DECIMALS + 1):
        scaled = values * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None
