"""Tables as VAE data: read and write CSV files, turn rows into vectors and vectors back into rows.

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
Missing values are not imputed: an empty cell is an error that says where it is.

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
import csv
import math
import pathlib

import numpy as np

from minivae.datasets.dataset import Dataset
from minivae.fileio import atomic_write
from minivae.validation import check_positive_int


# ---------------------------------------------------------------------------------------------------- CSV files
def read_csv_table(path):
    """Read a CSV file with a header row: returns (header, rows), the column names and the rows as lists of strings.

    Cells are stripped of surrounding spaces; blank lines are skipped. Raises ValueError, naming the file and line,
    for an empty file, a file with a header but no data, a first row that looks like data (no header), empty or
    repeated column names, and rows whose length differs from the header's.

    Example
    -------
    >>> header, rows = read_csv_table("table.csv")   # doctest: +SKIP
    >>> header, rows[0]                              # doctest: +SKIP
    (['height', 'colour'], ['175.2', 'red'])
    """
    header, rows = None, []
    with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: also reads files saved with a BOM
        reader = csv.reader(f)
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue  # blank line
            if header is None:
                header = _check_header(cells, f"{path}, line {reader.line_num}")
            elif len(cells) != len(header):
                raise ValueError(f"{path}, line {reader.line_num}: {len(cells)} values, but the header has "
                                 f"{len(header)} columns {header}; every row needs one value per column")
            else:
                rows.append(cells)
    if header is None:
        raise ValueError(f"{path} is empty; expected a header row of column names followed by data rows")
    if not rows:
        raise ValueError(f"{path} has a header {header} but no data rows")
    return header, rows


def _check_header(names, where):
    if all(_to_number(name) is not None for name in names):
        raise ValueError(f"{where}: the first row {names} holds only numbers; a header row of column names is "
                         "required, add one (e.g. x1,x2,...)")
    if not all(names):
        raise ValueError(f"{where}: column {names.index('') + 1} of the header has no name; name every column")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{where}: repeated column name(s) {repeated}; column names must be unique")
    return list(names)


def write_csv_table(path, header, rows):
    """Write a header row and the rows to a CSV file, atomically.

    The table goes to a temporary file in the same folder, which then replaces ``path`` in one step (``os.replace``):
    a crash or an error midway never leaves a half-written file, and an existing file stays as it was. Rows are
    checked before anything is written (one value per column).
    """
    path = pathlib.Path(path)
    header = [str(name) for name in header]
    rows = [list(row) for row in rows]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} values, but the header has {len(header)} columns {header}")
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


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

    def fit(self, header, rows):
        """Learn each column's kind and encoding from the rows (lists of cells, strings or numbers). Returns self."""
        header = _check_header([str(name).strip() for name in header], "header")
        unknown = [name for name in self.categorical if name not in header]
        if unknown:
            raise ValueError(f"categorical={unknown} names column(s) not in the header {header}")
        rows = self._check_rows(rows, header)
        if not rows:
            raise ValueError("cannot fit on an empty table; pass at least one row")
        self.header = header
        self.columns = [self._fit_column(name, [row[j] for row in rows]) for j, name in enumerate(header)]
        return self

    def _fit_column(self, name, cells):
        numbers = [_to_number(cell) for cell in cells]
        if name not in self.categorical and None not in numbers:
            values = np.array(numbers)
            _check_finite_column(name, values)
            std = float(values.std())
            # a constant column would divide by 0: keep it unscaled (std 1), its standardised value is then always 0
            return {"name": name, "kind": "numeric", "mean": float(values.mean()), "std": std if std > 0 else 1.0}
        distinct = set(cells)
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
        return {"name": name, "kind": "categorical", "categories": categories}

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


def _check_finite_column(name, values):
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        raise ValueError(f"column {name!r}, row {bad[0]}: {values[bad[0]]} is not a finite number "
                         f"({len(bad)} such rows); missing values are not imputed: fill them in or drop the rows")


# ------------------------------------------------------------------------------------------------- as a Dataset
def table_dataset(path, encoder=None, categorical=()):
    """A CSV table as a ``Dataset`` to train a VAE on: the rows encoded, shuffled once and split into train and test.

        header, rows = read_csv_table(path)
        x = encoder.transform(rows)                          # (N, D) float32, D = encoder.data_dim
        x_test  = x[order[:M]],  x_train = x[order[M:]]      # order: a fixed permutation (seed 0)

    with M = max(1, N // 10) test rows: a 90/10 split. The permutation depends only on N, so a resumed run, or a
    command that reads the checkpoint later, gets the same rows back.

    Parameters
    ----------
    path : a CSV file with a header row (see :func:`read_csv_table`)
    encoder : the TabularEncoder of an earlier run (or its ``to_dict()``, as a checkpoint stores it); default None: a
        new ``TabularEncoder(categorical=categorical)`` fitted to all rows of the table
    categorical : with a new encoder, columns to treat as categories even though they hold numbers

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
    header, rows = read_csv_table(path)
    if len(rows) < 2:
        raise ValueError(f"{path} has a single data row; a train and a test part need at least 2 rows")
    if encoder is None:
        encoder = TabularEncoder(categorical=categorical).fit(header, rows)
    elif isinstance(encoder, dict):
        encoder = TabularEncoder.from_dict(encoder)
    x = encoder.transform(rows)  # (N, D)
    order = np.random.default_rng(0).permutation(len(x))  # fixed: the same split on resume and in later commands
    n_test = max(1, len(x) // 10)
    data = Dataset(str(path), x[order[n_test:]], None, x[order[:n_test]], None, None, f"table {path}", encoder)
    return data


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
