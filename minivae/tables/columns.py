"""Each column of a table as numbers for the VAE, and back inside the column's support: one streaming pass to fit.

A table arrives in batches of columns (the column-batch convention of ``minivae.tables``: a dict name -> 1-D array;
numeric columns float64 with NaN for null, the others object arrays of str or bool, None for null). ``TableEncoder``
reads them once, keeping per column exact counts (rows, nulls, min, max, whether every value is a whole number, the
distinct values while there are few) and a uniform sample of RESERVOIR values (Vitter's algorithm R, seeded), and
then decides how each column is modelled:

    categorical   strings, booleans, columns named in categorical=, and whole-number columns with at most
                  max_levels distinct values (counts such as rings or children: 0, 1, 2, ...)
                  -> K one-hot entries, a softmax over the categories seen (a null is a category of its own)
    numeric       the others: u = (t(x) - m) / s, one Gaussian with a learned variance
                  t(x) = x                        "identity"
                         log(x + c)               "log": a column >= 0 whose sample is skewed (skewness > 1);
                                                  c = half the smallest positive value if the column has zeros, else 0
                         logit((x - a) / (b - a)) "logit": a range [a, b] you declare (ranges={name: (a, b)}),
                                                  squeezed into [EDGE, 1 - EDGE] so the ends stay finite
                  m, s: the mean and standard deviation of t(x) over the sample

and every nullable column gains one more categorical block ["value", "null"]; a null cell encodes u = 0 there, a
placeholder that the likelihood leaves out (the Gaussian spec's "null_block": a null row's likelihood is that of
being null, not of a value 0 it does not have).

Decoding goes back the same way and then keeps the value where the real column lives:

    x = clip(t^-1(m + s u), lo, hi), rounded to a whole number if every real value was one, else to the fewest
                                      decimal places that wrote every real value (at most 6: prices stay in cents)

with [lo, hi] the declared range, or else the smallest and largest values seen, so that no synthetic value lies
outside the real column's support (``extrapolate=True`` leaves out the clip to the seen values, never the
transform's own support: a log column stays >= 0, a logit column inside its range).

The learned variance has a floor per numeric column: VARIANCE_FLOOR = 0.01 of the standardised column (the model
may not claim to know a value better than to a tenth of the column's spread given z), or, for a whole-number
column, the variance of rounding, q^2 / 12 for the lattice step q = 1 / s, if that is larger. Without a floor (the
Mixed likelihood's default, e^-10, made for pixels) the variance shrinks within the first epoch onto values the
decoder does not predict yet, and the loss of the rows it misses runs into thousands of nats: on two columns (ages
18-89 and a standard normal, Adam 1e-3) the held-out loss jumped between 9 and 1,283 nats, against a steady 2.8
with the floors.
"""
import math

import numpy as np

from minivae.tables.summary import ColumnSummary
from minivae.validation import check_positive_int

FORMAT = "minivae.tables.TableEncoder/1"  # the record's format, checked when it is read back
KEYS = {"numeric": {"name", "kind", "transform", "shift", "low", "high", "whole", "decimals", "nullable", "mean", "std",
                    "min_logvar"},
        "categorical": {"name", "kind", "values", "number", "nullable"},
        "constant": {"name", "kind", "value", "number", "nullable"}}
VARIANCE_FLOOR = 0.01  # the least variance of a standardised numeric column given z: a tenth of its spread
EDGE = 1e-4  # logit((x - a) / (b - a)) is taken on [EDGE, 1 - EDGE]
NULL = "<null>"  # how a null category is shown in messages


class TableEncoder:
    """Fits, in one streaming pass, how each column is encoded (module docstring); encodes batches as (N, D) float32
    for the Mixed likelihood and decodes vectors back into column batches inside each column's support.

    Parameters
    ----------
    categorical : columns to model as categories although they hold numbers (codes such as 1, 2, 3 that are labels)
    numeric : whole-number columns to model as numbers although they have few distinct values
    ranges : {column: (a, b)}: a declared range; the column is modelled with the logit transform on it, and a value
        outside it is refused
    max_categories : a text column with more distinct values is refused (an identifier or free text)
    max_levels : a whole-number column with at most this many distinct values is categorical
    extrapolate : decode without the clip to the smallest and largest values seen (the transform's support stays)
    seed : of the sample's generator (the fit is repeatable bit for bit)

    After ``fit``: ``columns``, one dict per column, and ``data_dim`` D.
    """

    def __init__(self, categorical=(), numeric=(), ranges=None, max_categories=50, max_levels=20, extrapolate=False,
                 seed=0):
        self.categorical, self.numeric = [str(c) for c in categorical], [str(c) for c in numeric]
        self.ranges = {str(k): (float(a), float(b)) for k, (a, b) in (ranges or {}).items()}
        for name, (a, b) in self.ranges.items():
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"the range of column {name!r} must be two finite numbers a < b, got ({a}, {b})")
        both = set(self.categorical) & (set(self.numeric) | set(self.ranges))
        if both:
            raise ValueError(f"columns {sorted(both)} are declared both categorical and numeric")
        self.max_categories = check_positive_int(max_categories, "max_categories")
        self.max_levels = check_positive_int(max_levels, "max_levels")
        self.extrapolate, self.seed = bool(extrapolate), int(seed)
        self.columns = None

    # -- fitting -------------------------------------------------------------------------------------------------------

    def fit(self, batches):
        """Fit on an iterable of column batches (read once). Returns self."""
        rng, summaries = np.random.default_rng(self.seed), None
        for batch in batches:
            if summaries is None:
                summaries = {name: ColumnSummary(name, _kind_of(name, values), rng,
                                                 max(self.max_categories, self.max_levels))
                             for name, values in batch.items()}
                self._check_declared(list(batch))
            _check_same_columns(list(summaries), list(batch))
            for name, values in batch.items():
                summaries[name].update(values)
        if summaries is None or next(iter(summaries.values())).rows == 0:
            raise ValueError("cannot fit a table encoder on an empty table; give it at least one row")
        self.columns = [self._decide(s) for s in summaries.values()]
        return self

    def _check_declared(self, names):
        unknown = sorted((set(self.categorical) | set(self.numeric) | set(self.ranges)) - set(names))
        if unknown:
            raise ValueError(f"the columns {unknown} were declared but are not in the table, whose columns are "
                             f"{names}")

    def _decide(self, s):
        """The encoding of one column from its summary."""
        name, nullable = s.name, s.nulls > 0
        if s.rows == s.nulls:
            raise ValueError(f"column {name!r} is null in every row; it carries nothing to learn: drop it")
        few = s.distinct is not None and len(s.distinct) <= self.max_levels
        if s.kind == "text" or name in self.categorical or (s.whole and few and name not in self.numeric
                                                               and name not in self.ranges):
            return _categorical(s, self.max_categories, nullable)
        return _numeric(s, self.ranges.get(name), nullable)

    # -- the encoding --------------------------------------------------------------------------------------------------

    @property
    def header(self):
        self._require_fit()
        return [c["name"] for c in self.columns]

    @property
    def data_dim(self):
        """D: 1 per numeric column (+ 2 if it has nulls), K per categorical column, 0 per constant one."""
        return sum(_width(c) for c in self._require_fit())

    def column_specs(self):
        """The columns of the matching Mixed likelihood, in the layout of x (a null block after its column)."""
        specs = []
        for c in self._require_fit():
            if c["kind"] == "numeric":
                specs.append({"type": "gaussian", "size": 1, "name": c["name"],
                              **({"min_logvar": c["min_logvar"]} if c["min_logvar"] is not None else {}),
                              **({"null_block": len(specs) + 1} if c["nullable"] else {})})
                if c["nullable"]:
                    specs.append({"type": "categorical", "size": 2, "name": f"{c['name']} is null"})
            elif c["kind"] == "categorical":
                specs.append({"type": "categorical", "size": len(c["values"]), "name": c["name"]})
        return specs

    def transform(self, batch, dtype=np.float32):
        """A column batch (N rows) -> x (N, D): the module docstring's u, one-hot categories and null blocks."""
        columns = self._require_fit()
        _check_same_columns(self.header, list(batch), fitted=True)
        n = len(next(iter(batch.values())))
        x, at = np.zeros((n, self.data_dim), dtype=np.float64), 0
        for c in columns:
            values = batch[c["name"]]
            if len(values) != n:
                raise ValueError(f"column {c['name']!r} has {len(values)} values, the others {n}")
            if c["kind"] == "numeric":
                _encode_numeric(c, np.asarray(values, dtype=np.float64), x[:, at:at + _width(c)])
            elif c["kind"] == "categorical":
                _encode_categorical(c, values, x[:, at:at + _width(c)])
            else:
                _check_constant(c, values)
            at += _width(c)
        return x.astype(dtype)

    def inverse_transform(self, x):
        """x (N, D) -> a column batch: numbers inside their support, categories by their largest entry."""
        columns = self._require_fit()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (N, {self.data_dim}) for this encoder, got {x.shape}")
        batch, at = {}, 0
        for c in columns:
            part = x[:, at:at + _width(c)]
            if c["kind"] == "numeric":
                batch[c["name"]] = _decode_numeric(c, part, self.extrapolate)
            elif c["kind"] == "categorical":
                chosen = [c["values"][k] for k in part.argmax(axis=1)]
                batch[c["name"]] = (np.array([np.nan if v is None else v for v in chosen], dtype=np.float64)
                                    if c["number"] else np.array(chosen, dtype=object))
            else:
                batch[c["name"]] = np.full(len(x), c["value"], dtype=np.float64 if c["number"] else object)
            at += _width(c)
        return batch

    # -- saving --------------------------------------------------------------------------------------------------------

    def to_dict(self):
        """A JSON-able dict from which ``from_dict`` rebuilds the fitted encoder (a checkpoint stores it)."""
        return {"format": FORMAT, "columns": [dict(c) for c in self._require_fit()], "extrapolate": self.extrapolate,
                "max_categories": self.max_categories, "max_levels": self.max_levels, "seed": self.seed}

    @classmethod
    def from_dict(cls, d):
        """The fitted encoder ``to_dict`` described; a ValueError that says what is wrong for anything else."""
        if not isinstance(d, dict) or d.get("format") != FORMAT or not isinstance(d.get("columns"), list):
            raise ValueError(f"not a TableEncoder record (format {FORMAT!r}): {str(d)[:80]}")
        enc = cls(max_categories=d.get("max_categories", 50), max_levels=d.get("max_levels", 20),
                  extrapolate=d.get("extrapolate", False), seed=d.get("seed", 0))
        enc.columns = [_checked_column(c) for c in d["columns"]]
        return enc

    def _require_fit(self):
        if self.columns is None:
            raise RuntimeError("this TableEncoder is not fitted yet; call fit(batches) first")
        return self.columns

    def __repr__(self):
        if self.columns is None:
            return "TableEncoder(not fitted)"
        return f"TableEncoder({', '.join(describe(c) for c in self.columns)}; D={self.data_dim})"


def describe(column):
    """One column's encoding in a few words: "age: numeric, log, whole, [0, 97], nulls"."""
    c = column
    if c["kind"] == "constant":
        return f"{c['name']}: constant {c['value']!r}"
    if c["kind"] == "categorical":
        return f"{c['name']}: {len(c['values'])} categories" + (" (one is null)" if c["nullable"] else "")
    return (f"{c['name']}: numeric, {c['transform']}{', whole' if c['whole'] else ''}, [{c['low']:g}, {c['high']:g}]"
            + (", nulls" if c["nullable"] else ""))


# -- deciding a column's encoding -----------------------------------------------------------------------------------

def _kind_of(name, values):
    """ "number" for a float array, "text" for an object array (str, bool, None)."""
    values = np.asarray(values)
    if values.dtype == object:
        return "text"
    if values.dtype.kind == "f":
        return "number"
    raise ValueError(f"column {name!r} has dtype {values.dtype}: a column batch holds float64 numbers (NaN for null) "
                     "or objects (str or bool, None for null)")


def _check_same_columns(expected, found, fitted=False):
    if expected != found:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        moved = "" if missing or extra else "; the same columns in another order"
        where = "the encoder was fitted on" if fitted else "the first batch had"
        raise ValueError(f"the columns differ from those {where}: missing {missing}, new {extra}{moved}. Give the "
                         "columns the model was trained on, in the same order")


def _categorical(s, max_categories, nullable):
    if s.distinct is None or len(s.distinct) > max_categories:
        count = "more than " + str(s.max_distinct) if s.distinct is None else str(len(s.distinct))
        raise ValueError(f"column {s.name!r} is categorical with {count} distinct values, more than "
                         f"max_categories={max_categories}; it looks like an identifier or free text: drop it, or "
                         "raise max_categories if you really mean it")
    values = sorted(s.distinct, key=lambda v: (str(type(v)), v))
    if len(values) == 1 and not nullable:
        return {"name": s.name, "kind": "constant", "value": values[0], "number": s.kind == "number",
                "nullable": False}
    return {"name": s.name, "kind": "categorical", "values": values + [None] * nullable, "number": s.kind == "number",
            "nullable": nullable}


def _numeric(s, declared, nullable):
    sample = np.array(s.sample, dtype=np.float64)
    shift = 0.0
    if declared is not None:
        a, b = declared
        if s.low < a or s.high > b:
            raise ValueError(f"column {s.name!r} holds values in [{s.low:g}, {s.high:g}], outside its declared range "
                             f"[{a:g}, {b:g}]; fix the range or the data")
        transform, low, high = "logit", a, b
    elif s.low >= 0 and _skewness(sample) > 1:
        positive = sample[sample > 0]
        shift = float(positive.min()) / 2 if s.low == 0 and len(positive) else 0.0
        transform, low, high = "log", s.low, s.high
    else:
        transform, low, high = "identity", s.low, s.high
    c = {"name": s.name, "kind": "numeric", "transform": transform, "shift": shift, "low": low, "high": high,
         "whole": s.whole, "decimals": s.decimals, "nullable": nullable, "mean": 0.0, "std": 1.0, "min_logvar": None}
    y = _forward(c, sample)
    c["mean"], c["std"] = float(y.mean()), float(y.std()) if y.std() > 0 else 1.0
    rounding = (1 / c["std"]) ** 2 / 12 if s.whole and transform == "identity" else 0.0  # a lattice of step 1 / s
    c["min_logvar"] = math.log(max(VARIANCE_FLOOR, rounding))
    return c


def _skewness(values):
    """E[(v - mean)^3] / std^3 (0 for a constant sample)."""
    sd = values.std()
    return float(((values - values.mean()) ** 3).mean() / sd ** 3) if sd > 0 else 0.0


def _width(c):
    return {"numeric": 1 + 2 * c["nullable"], "categorical": len(c.get("values", ())), "constant": 0}[c["kind"]]


# -- the transforms -------------------------------------------------------------------------------------------------

def _forward(c, x):
    """t(x), the module docstring's transform (before standardising)."""
    if c["transform"] == "log":
        return np.log(x + c["shift"])
    if c["transform"] == "logit":
        p = np.clip((x - c["low"]) / (c["high"] - c["low"]), EDGE, 1 - EDGE)
        return np.log(p) - np.log1p(-p)
    return x


def _inverse(c, y):
    """t^-1(y): exp(y) - c, or a + (b - a) sigmoid(y), or y."""
    if c["transform"] == "log":
        return np.exp(np.minimum(y, 700.0)) - c["shift"]
    if c["transform"] == "logit":
        return c["low"] + (c["high"] - c["low"]) / (1 + np.exp(-np.clip(y, -700.0, 700.0)))
    return y


def _encode_numeric(c, values, out):
    """out[:, 0] = (t(x) - m) / s, 0 for nulls; out[:, 1:3] = one-hot [value, null] if the column has nulls."""
    null = np.isnan(values)
    if null.any() and not c["nullable"]:
        raise ValueError(f"column {c['name']!r} has {int(null.sum())} null value(s), but had none when the encoder "
                         "was fitted: fill them in, drop those rows, or train on data that has them")
    present = values[~null]
    if not np.isfinite(present).all():
        raise ValueError(f"column {c['name']!r} holds an infinite value; replace it or drop its rows")
    if c["transform"] == "log" and (present + c["shift"] <= 0).any():
        raise ValueError(f"column {c['name']!r} was >= 0 when the encoder was fitted (a log transform), but holds "
                         f"{present.min():g} now")
    if c["transform"] == "logit" and ((present < c["low"]) | (present > c["high"])).any():
        raise ValueError(f"column {c['name']!r} holds values outside its declared range [{c['low']:g}, "
                         f"{c['high']:g}]")
    out[~null, 0] = (_forward(c, present) - c["mean"]) / c["std"]
    if c["nullable"]:
        out[:, 1], out[:, 2] = ~null, null


def _decode_numeric(c, part, extrapolate):
    x = _inverse(c, c["mean"] + c["std"] * part[:, 0])
    if c["transform"] == "log":
        x = np.maximum(x, 0.0)  # the log column's own support
    if not extrapolate or c["transform"] == "logit":
        x = np.clip(x, c["low"], c["high"])
    if c["whole"]:
        x = np.round(x)
    elif c.get("decimals") is not None:
        x = np.round(x, c["decimals"])  # the real column's precision: 2 decimals in, 2 decimals out
    if c["nullable"]:
        x[part[:, 2] > part[:, 1]] = np.nan
    return x


def _encode_categorical(c, values, out):
    index = {v: k for k, v in enumerate(c["values"])}
    values = [None if (isinstance(v, float) and math.isnan(v)) else v for v in np.asarray(values).tolist()]
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ValueError(f"column {c['name']!r} has categories the encoder has never seen: {shown} (it knows "
                         f"{len(c['values'])}: {', '.join(NULL if v is None else repr(v) for v in c['values'][:8])}"
                         f"{' ...' if len(c['values']) > 8 else ''}); map them to known ones, or train on data that "
                         "has them")
    out[np.arange(len(values)), [index[v] for v in values]] = 1.0


def _check_constant(c, values):
    values = np.asarray(values).tolist()
    other = [v for v in values if v != c["value"] and not (c["number"] and isinstance(v, float) and math.isnan(v))]
    if other or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        raise ValueError(f"column {c['name']!r} held the single value {c['value']!r} when the encoder was fitted, but "
                         f"holds {other[0] if other else 'a null'!r} now; the model cannot score values it never saw")


def _checked_column(c):
    """One column of a saved encoder, with the keys its kind needs (a damaged record is a clear error)."""
    kind = c.get("kind") if isinstance(c, dict) else None
    if kind == "numeric" and "decimals" not in c:
        c = dict(c, decimals=None)  # recorded before the encoder kept the columns' decimal places: not rounded
    if kind not in KEYS or set(c) != KEYS[kind]:
        raise ValueError(f"a column of the saved TableEncoder is damaged: {str(c)[:100]}")
    if kind == "numeric" and (c["transform"] not in ("identity", "log", "logit") or not c["std"] > 0):
        raise ValueError(f"column {c['name']!r} of the saved TableEncoder has transform {c['transform']!r} and std "
                         f"{c['std']!r}")
    return dict(c)
