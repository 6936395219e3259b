"""Tables as VAE data as minivae 0.2 made them: rows into vectors and back, a CSV table as a Dataset.

This is the encoder of minivae 0.2's table runs, kept so that their checkpoints still load, evaluate and synthesize
as they did. A new run (``train --table``) uses ``minivae.tables``: its TableEncoder keeps every value inside its
column's support (log and logit transforms, whole numbers, declared ranges, nulls), reads Parquet and lakehouse
tables as well as CSV, and streams tables larger than memory.

A table mixes numbers and categories. The VAE needs one vector of floats per row, so each column is encoded:

* a **numeric** column is standardised, v -> (v - mean) / std (mean and std of the fitted data), and modelled by a
  Gaussian with a learned variance: one "gaussian" column of size 1 of the ``Mixed`` likelihood;
* a **categorical** column with K distinct values becomes K one-hot columns, modelled by a softmax: one
  "categorical" column of size K.

For example, with numeric columns "height" (mean 170, std 10) and "weight", and "colour" in {blue, green, red}::

    header:  height  weight  colour         x:  [ 0.5   -1.2   0 0 1 ]
    row:     175     61      red                  height weight colour (one-hot, categories sorted)

``inverse_transform`` undoes it (de-standardise; the category with the largest entry), and ``column_specs`` gives the
matching ``Mixed`` likelihood, so a VAE trained on ``transform(rows)`` can generate new rows (``synthesize``).

A column is categorical if any of its cells is not a number, or if you name it in ``categorical=[...]`` (for
integer codes such as 1, 2, 3 that are labels, not quantities). Cells are compared as text after stripping spaces.
The encoder imputes nothing: an empty cell is an error that says where it is. ``table_dataset`` reports missing
values and handles them only as asked (``missing=``, ``minivae.datasets.missing``). The CSV files themselves are read
and written by ``minivae.datasets.csvfiles`` (``read_csv_table``, ``write_csv_table``, also importable from here).

Typical use::

    header, rows = read_csv_table("people.csv")
    enc = TabularEncoder(categorical=["group"]).fit(header, rows)
    x = enc.transform(rows)                                      # (N, D) float32
    vae = VAE(enc.data_dim, latent_dim=4, hidden=(64,), likelihood={"name": "mixed", "columns": enc.column_specs()})
    ... train ...
    write_csv_table("synthetic.csv", header, synthesize(vae, enc, 1000, rng))

``table_dataset(path)`` does the first three lines in one call and returns a ``Dataset`` with a fixed 90/10 split
(what ``python -m minivae train --table people.csv`` trains on).
"""
import math

import numpy as np

from minivae.datasets.csvfiles import check_header, read_csv_table, read_table_cells, write_csv_table  # noqa: F401
from minivae.datasets.dataset import Dataset, tell
from minivae.datasets.missing import handle_missing_cells, is_missing, most_frequent
from minivae.validation import check_positive_int


def _to_number(cell):
    """float(cell), or None if the cell is not a number ("nan" and "inf" count as numbers here)."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------------- encoder
class TabularEncoder:
    """Encodes table rows as (N, D) float vectors for the ``Mixed`` likelihood, and decodes vectors back into rows.

    Parameters
    ----------
    categorical : names of columns to treat as categories even though their cells are numbers (integer codes);
        columns with any non-numeric cell are categorical anyway
    max_categories : a categorical column with more distinct values than this is refused (it is most likely an
        identifier or free text, and would add that many columns)

    After ``fit``: ``header`` (the column names), ``columns`` (one dict per column: {"name", "kind": "numeric",
    "mean", "std"} or {"name", "kind": "categorical", "categories"}), ``data_dim`` D.

    Example
    -------
    >>> enc = TabularEncoder().fit(["h", "c"], [["1.0", "a"], ["3.0", "b"], ["2.0", "a"]])
    >>> enc.transform([["3.0", "b"]], dtype=np.float64).round(3).tolist()
    [[1.225, 0.0, 1.0]]
    >>> enc.inverse_transform(enc.transform([["3.0", "b"]], dtype=np.float64))
    [[3.0, 'b']]
    >>> enc.column_specs()
    [{'type': 'gaussian', 'size': 1, 'name': 'h'}, {'type': 'categorical', 'size': 2, 'name': 'c'}]
    """

    def __init__(self, categorical=(), max_categories=50):
        if isinstance(categorical, str):
            categorical = [categorical]
        self.categorical = [str(name) for name in categorical]
        self.max_categories = check_positive_int(max_categories, "max_categories")
        self.header, self.columns = None, None

    # -- fitting -------------------------------------------------------------------------------------------------------

    def fit(self, header, rows, lines=None):
        """Learn each column's kind and encoding from the rows (lists of cells, strings or numbers). Returns self.

        ``lines``: optionally the file line of each row, for messages (default: rows are counted from 0)."""
        header = check_header([str(name).strip() for name in header], "header")
        unknown = [name for name in self.categorical if name not in header]
        if unknown:
            raise ValueError(f"categorical={unknown} names column(s) not in the header {header}")
        rows = self._check_rows(rows, header)
        if not rows:
            raise ValueError("cannot fit on an empty table; pass at least one row")
        self.header = header
        where = [f"line {n}" for n in lines] if lines is not None else [f"row {i}" for i in range(len(rows))]
        self.columns = [self._fit_column(name, [row[j] for row in rows], where) for j, name in enumerate(header)]
        return self

    def _fit_column(self, name, cells, where):
        numbers = [_to_number(cell) for cell in cells]
        if name not in self.categorical and None not in numbers:
            values = np.array(numbers)
            _check_finite_column(name, values)
            std = float(values.std())
            # a constant column would divide by 0: keep it unscaled (std 1), its standardised value is then always 0
            return {"name": name, "kind": "numeric", "mean": float(values.mean()), "std": std if std > 0 else 1.0}
        distinct = set(cells)
        if len(distinct) > self.max_categories and name not in self.categorical:
            _refuse_mostly_numbers(name, cells, numbers, where)
        if len(distinct) > self.max_categories:
            raise ValueError(f"column {name!r} is categorical with {len(distinct)} distinct values, more than "
                             f"max_categories={self.max_categories}; it looks like an identifier or free text: drop "
                             "it, or raise max_categories if you really mean it")
        if len(distinct) < 2:
            raise ValueError(f"column {name!r} has the single value {cells[0]!r} in every row; it carries no "
                             "information, drop it")
        if None in numbers:
            categories = sorted(distinct)
        else:  # integer codes: order 2 before 10
            categories = sorted(distinct, key=lambda cell: (float(cell), cell))
        return {"name": name, "kind": "categorical", "categories": categories, "most_frequent": most_frequent(cells)}

    @staticmethod
    def _check_rows(rows, header):
        """Rows as lists of stripped strings; a clear error for a wrong length or an empty cell."""
        clean = []
        for i, row in enumerate(rows):
            cells = [str(cell).strip() for cell in row]
            if len(cells) != len(header):
                raise ValueError(f"row {i} has {len(cells)} values, but the table has {len(header)} columns {header}")
            if not all(cells):
                j = cells.index("")
                raise ValueError(f"row {i}, column {header[j]!r} is empty; missing values are not imputed: fill "
                                 "them in or drop the row")
            clean.append(cells)
        return clean

    def _require_fit(self):
        if self.columns is None:
            raise RuntimeError("this TabularEncoder is not fitted yet; call fit(header, rows) first")

    # -- the encoding --------------------------------------------------------------------------------------------------

    @property
    def data_dim(self):
        """D, the width of the encoded vectors: 1 per numeric column plus K per categorical column."""
        self._require_fit()
        return sum(_width(c) for c in self.columns)

    def column_specs(self):
        """The column list of the matching Mixed likelihood: {"type": "gaussian" | "categorical", "size", "name"}."""
        self._require_fit()
        return [{"type": "gaussian", "size": 1, "name": c["name"]} if c["kind"] == "numeric"
                else {"type": "categorical", "size": len(c["categories"]), "name": c["name"]} for c in self.columns]

    def transform(self, rows, dtype=np.float32):
        """Rows (lists of cells in header order) -> x (N, D): standardised numbers and one-hot categories."""
        self._require_fit()
        rows = self._check_rows(rows, self.header)
        x = np.zeros((len(rows), self.data_dim), dtype=np.float64)
        at = 0
        for j, c in enumerate(self.columns):
            cells = [row[j] for row in rows]
            if c["kind"] == "numeric":
                numbers = [_to_number(cell) for cell in cells]
                if None in numbers:
                    i = numbers.index(None)
                    raise ValueError(f"row {i}, column {c['name']!r}: {cells[i]!r} is not a number, but the column "
                                     "was numeric when the encoder was fitted")
                values = np.array(numbers)
                _check_finite_column(c["name"], values)
                x[:, at] = (values - c["mean"]) / c["std"]
            else:
                index = {category: k for k, category in enumerate(c["categories"])}
                for i, cell in enumerate(cells):
                    if cell not in index:
                        raise ValueError(f"row {i}, column {c['name']!r}: unknown category {cell!r}; the encoder "
                                         f"was fitted with {c['categories']}")
                    x[i, at + index[cell]] = 1.0
            at += _width(c)
        return x.astype(dtype)

    def inverse_transform(self, x):
        """x (N, D) -> rows: numbers de-standardised (Python floats), categories by the largest of their K entries."""
        self._require_fit()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (N, {self.data_dim}) for this encoder, got {x.shape}")
        columns, at = [], 0
        for c in self.columns:
            if c["kind"] == "numeric":
                columns.append([float(v) for v in x[:, at] * c["std"] + c["mean"]])
            else:
                best = x[:, at:at + _width(c)].argmax(axis=1)
                columns.append([c["categories"][k] for k in best])
            at += _width(c)
        return [list(row) for row in zip(*columns)]

    # -- saving --------------------------------------------------------------------------------------------------------

    def to_dict(self):
        """A JSON-able dict from which ``from_dict`` rebuilds the fitted encoder (a checkpoint can store it)."""
        self._require_fit()
        return {"columns": [dict(c, categories=list(c["categories"])) if c["kind"] == "categorical" else dict(c)
                            for c in self.columns],
                "max_categories": self.max_categories}

    @classmethod
    def from_dict(cls, d):
        """The fitted encoder that ``to_dict`` described."""
        columns = d["columns"]
        enc = cls(categorical=[c["name"] for c in columns if c["kind"] == "categorical"],
                  max_categories=d.get("max_categories", 50))
        enc.columns = []
        for c in columns:
            if c["kind"] == "numeric":
                enc.columns.append({"name": str(c["name"]), "kind": "numeric", "mean": float(c["mean"]),
                                    "std": float(c["std"])})
            elif c["kind"] == "categorical":
                enc.columns.append({"name": str(c["name"]), "kind": "categorical",
                                    "categories": [str(k) for k in c["categories"]]})
                if "most_frequent" in c:  # recorded since minivae 0.2: the value that fills a missing cell
                    enc.columns[-1]["most_frequent"] = str(c["most_frequent"])
            else:
                raise ValueError(f"column {c.get('name')!r} has unknown kind {c['kind']!r}; expected 'numeric' or "
                                 "'categorical'")
        enc.header = [c["name"] for c in enc.columns]
        return enc

    def __repr__(self):
        if self.columns is None:
            return f"TabularEncoder(categorical={self.categorical}, not fitted)"
        kinds = ", ".join(f"{c['name']}: {c['kind'] if c['kind'] == 'numeric' else len(c['categories'])}"
                          for c in self.columns)
        return f"TabularEncoder({kinds}; D={self.data_dim})"


def _width(column):
    return 1 if column["kind"] == "numeric" else len(column["categories"])


def _refuse_mostly_numbers(name, cells, numbers, where):
    """A column of numbers with a few cells of text is a typo or a missing value, not a categorical column."""
    bad = [i for i, v in enumerate(numbers) if v is None]
    if len(bad) <= len(cells) // 2:
        shown = ", ".join(f"{where[i]}: {cells[i]!r}" for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ValueError(f"column {name!r} holds numbers except in {len(bad)} row(s) ({shown}); fix those cells "
                         "(a missing value: --missing-values, missing= in Python), or name the column as categorical "
                         "if its values are labels")


def _check_finite_column(name, values):
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        raise ValueError(f"column {name!r}, row {bad[0]}: {values[bad[0]]} is not a finite number "
                         f"({len(bad)} such rows); missing values are not imputed: fill them in or drop the rows")


# ------------------------------------------------------------------------------------------------- as a Dataset
def table_dataset(path, encoder=None, categorical=(), missing="error", image_shape=None):
    """A CSV table as a ``Dataset`` to train a VAE on: the rows encoded, shuffled once and split into train and test.

        header, rows = read_csv_table(path)                  # missing values handled as ``missing`` says
        x = encoder.transform(rows)                          # (N, D) float32, D = encoder.data_dim
        x_test  = x[order[:M]],  x_train = x[order[M:]]      # order: a fixed permutation (seed 0)

    with M = max(1, N // 10) test rows: a 90/10 split. The permutation depends only on N, so a resumed run, or a
    command that reads the checkpoint later, gets the same rows back. What the reader decided (the delimiter, the
    header, rows dropped or values filled in) is printed, one line each ("minivae: ...", on stderr).

    Parameters
    ----------
    path : a CSV file (or .csv.gz) with a header row (see :func:`read_csv_table`) and at least two columns
    encoder : the TabularEncoder of an earlier run (or its ``to_dict()``, as a checkpoint stores it); default None: a
        new ``TabularEncoder(categorical=categorical)`` fitted to all rows of the table. A given encoder must have
        the table's columns, in the same order
    categorical : with a new encoder, columns to treat as categories even though they hold numbers
    missing : missing values ("", "n/a", "NA", "?", "nan", ...): "error" (the default) refuses the table with a report
        of where they are; "drop" leaves out the rows that have one; "mean" fills in a numeric column's mean and a
        categorical column's most frequent value (a given encoder's, which are the values its run was trained with)
    image_shape : must be None (the rows of a table are not images); there so that every loader takes the same options

    Returns
    -------
    Dataset with ``x_train`` (N - M, D) and ``x_test`` (M, D) float32, no labels, ``image_shape`` None, and one more
    attribute, ``encoder``: the TabularEncoder, to decode model outputs back into rows (and to store in a checkpoint).

    Example
    -------
    >>> data = table_dataset("people.csv", categorical=["group"])     # doctest: +SKIP
    >>> data.x_train.shape, data.x_test.shape, data.encoder           # doctest: +SKIP
    ((270, 5), (30, 5), TabularEncoder(height: numeric, weight: numeric, group: 3; D=5))
    """
    if image_shape is not None:
        raise ValueError(f"{path} is a table: its rows are not images, so an image shape {tuple(image_shape)} does "
                         "not apply")
    cells = read_table_cells(path)
    header, rows = cells.header, cells.rows
    if len(header) < 2:
        raise ValueError(f"{path} has a single column {header[0]!r}; a table needs at least two (if the file has "
                         "more, they are not separated by ',', ';' or tab; a single column of numbers can be read "
                         "with --data)")
    if isinstance(encoder, dict):
        encoder = TabularEncoder.from_dict(encoder)
    if encoder is not None and encoder.header != header:
        raise ValueError(f"{path} has the columns {header}, but the encoder was fitted on {encoder.header}; a table "
                         "read with a run's encoder needs the same columns in the same order")
    if encoder is not None:
        numeric = [c["kind"] == "numeric" for c in encoder.columns]
        fill = {c["name"]: repr(c["mean"]) if c["kind"] == "numeric" else c.get("most_frequent")
                for c in encoder.columns}
        fill = {name: value for name, value in fill.items() if value is not None}
    else:
        numeric = [name not in categorical and all(_to_number(row[j]) is not None for row in rows
                                                   if not is_missing(row[j])) for j, name in enumerate(header)]
        fill = None
    rows, lines, notes = handle_missing_cells(path, header, rows, cells.lines, missing, numeric, fill)
    tell(*([cells.summary()] if cells.notable else []), *notes)
    if len(rows) < 2:
        raise ValueError(f"{path} has a single data row; a train and a test part need at least 2 rows")
    if encoder is None:
        encoder = TabularEncoder(categorical=categorical).fit(header, rows, lines)
    x = encoder.transform(rows)  # (N, D)
    order = np.random.default_rng(0).permutation(len(x))  # fixed: the same split on resume and in later commands
    n_test = max(1, len(x) // 10)
    description = f"table {path}" + "".join(f"; {note}" for note in cells.notes + notes)
    return Dataset(str(path), x[order[n_test:]], None, x[order[:n_test]], None, None, description, encoder)


# ---------------------------------------------------------------------------------------------------- generation
def synthesize(model, encoder, n, rng):
    """n new table rows from a VAE trained on ``encoder.transform(rows)`` with the matching Mixed likelihood.

        z ~ N(0, I),   x ~ p(x | z)  (a Gaussian draw per numeric column, a category draw per categorical one),
        rows = encoder.inverse_transform(x)

    Drawing x (not taking its mean) matters: the mean of a categorical column is its probability vector, whose
    largest entry would over-produce the most likely category.
    """
    n = check_positive_int(n, "n")
    if model.input_dim != encoder.data_dim:
        raise ValueError(f"the model takes {model.input_dim} columns but the encoder makes {encoder.data_dim}; "
                         "use the encoder the model was trained with")
    z = rng.standard_normal((n, model.latent_dim)).astype(model.dtype)
    x = model.likelihood.sample(model.decoder.forward(z), rng)  # (n, D)
    return encoder.inverse_transform(x)
