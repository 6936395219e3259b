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


class ColumnSummary:
    """What one pass over a column keeps: counts, min, max, integrality, the distinct values while they are few
    (value -> count; None once there are more than max_distinct), and a uniform sample of ``size`` values."""

    def __init__(self, name, kind, rng, max_distinct, size=RESERVOIR):
        self.name, self.kind, self.rng = name, kind, rng  # kind: "number" (float64, NaN = null) or "text"
        self.rows = self.nulls = self.present = 0
        self.low, self.high, self.whole = math.inf, -math.inf, True
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
