"""What every quality metric checks first: two tables in the column-batch convention, with the same columns and a
kind for each.

The column-batch convention: a table is a ``dict`` of column name -> 1-D array, every array of the same length N,
in column order.

    "numeric"       float64, NaN for null (integer arrays are read as float64)
    "categorical"   object arrays of str (booleans as bool), None for null (a float NaN counts as null too)

``kinds`` maps every column name to "numeric" or "categorical"; ``infer_kinds`` reads it off the dtypes (float,
int -> numeric; object, str, bool -> categorical). A metric compares a ``real`` table with a ``synthetic`` one:
``check_tables`` refuses, with one line that says what to fix, two tables whose column names differ, an empty
table, a column of unequal length, a kind that is neither of the two, a numeric column of text, and a column
without one non-null value (there is no distribution to compare). The column order is the real table's.

Categories are compared as Python values: "1" and 1, or True and "True", are different categories. ``category_codes``
turns one categorical column of two tables into integer codes on their common, sorted list of categories, -1 for
null, which is what the counting metrics work on.

Example
-------
>>> real = {"age": np.array([31.0, np.nan, 45.0]), "city": np.array(["Oslo", None, "Rome"], dtype=object)}
>>> infer_kinds(real)
{'age': 'numeric', 'city': 'categorical'}
>>> codes, categories = category_codes([real["city"], np.array(["Rome"], dtype=object)])
>>> [c.tolist() for c in codes], categories
([[0, -1, 1], [1]], ['Oslo', 'Rome'])
"""
import numpy as np

KINDS = ("numeric", "categorical")


def is_null(value):
    """True for None and for a float NaN: a null cell of a categorical column."""
    return value is None or (isinstance(value, (float, np.floating)) and value != value)


def infer_kinds(table):
    """kinds from the dtypes of a table's columns: {name: "numeric" | "categorical"}, in column order.

    float and integer dtypes are numeric; object, str and bool dtypes are categorical (a bool column is a category
    of two values, as SDMetrics' "boolean" sdtype is compared). Any other dtype (dates, complex) is a ValueError.

    Example
    -------
    >>> infer_kinds({"x": np.array([1.5, 2.0]), "flag": np.array([True, False])})
    {'x': 'numeric', 'flag': 'categorical'}
    """
    _check_table(table, "table")
    kinds = {}
    for name, column in table.items():
        dtype = np.asarray(column).dtype
        if dtype.kind in "fiu":
            kinds[name] = "numeric"
        elif dtype.kind in "OUSb":
            kinds[name] = "categorical"
        else:
            raise ValueError(f"column {name!r} has dtype {dtype}, which is neither numeric nor categorical: convert it "
                             "to float64 or to an object array of str, or pass kinds= yourself")
    return kinds


def _check_table(table, name):
    """A non-empty dict of equally long, non-empty 1-D columns. Returns N, the number of rows."""
    if not isinstance(table, dict):
        raise TypeError(f"{name} must be a dict of column name -> 1-D array, got {type(table).__name__}")
    if not table:
        raise ValueError(f"{name} has no columns: pass a dict of column name -> 1-D array")
    lengths = {}
    for column, values in table.items():
        shape = np.shape(values)
        if len(shape) != 1:
            raise ValueError(f"column {column!r} of {name} must be a 1-D array, got shape {shape}")
        lengths[column] = shape[0]
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the columns of {name} differ in length ({lengths}); every column needs one value per row")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{name} has no rows: the metrics compare distributions, pass at least one row")
    return n


def check_kinds(kinds, columns):
    """kinds must give "numeric" or "categorical" for exactly the given column names. Returns it as a dict."""
    if not isinstance(kinds, dict):
        raise TypeError(f"kinds must be a dict of column name -> 'numeric' or 'categorical', got "
                        f"{type(kinds).__name__}")
    if set(kinds) != set(columns):
        missing, extra = sorted(set(columns) - set(kinds)), sorted(set(kinds) - set(columns))
        raise ValueError(f"kinds must name every column and no other: missing {missing}, not in the tables {extra}")
    for column, kind in kinds.items():
        if kind not in KINDS:
            raise ValueError(f"kinds[{column!r}] is {kind!r}; a column is one of {KINDS}")
    return dict(kinds)


def check_tables(tables, kinds):
    """Check tables (a dict of role -> table, e.g. {"real": real, "synthetic": synthetic}) against each other and
    against kinds; return them in the convention, the columns in the first table's order.

    Numeric columns come back as float64 arrays (integers converted), categorical ones as object arrays. The
    messages name the role ("column 'age' of the synthetic table ...").

    Example
    -------
    >>> checked = check_tables({"real": real, "synthetic": synthetic}, kinds)
    >>> checked["real"]["age"].dtype
    dtype('float64')
    """
    first = next(iter(tables))
    columns = list(tables[first])
    for role, table in tables.items():
        _check_table(table, f"the {role} table")
        if set(table) != set(columns):
            raise ValueError(f"the {role} table has columns {sorted(table)}, the {first} table {sorted(columns)}: "
                             "both must have the same column names")
    kinds = check_kinds(kinds, columns)
    return {role: {column: _check_column(table[column], kinds[column], column, role) for column in columns}
            for role, table in tables.items()}


def _check_column(values, kind, column, role):
    if kind == "numeric":
        values = np.asarray(values)
        if values.dtype.kind not in "fiub":
            raise ValueError(f"column {column!r} of the {role} table is numeric by kinds but has dtype {values.dtype}: "
                             "pass float64 values with NaN for null, or call it 'categorical'")
        values = values.astype(np.float64)
        if np.isinf(values).any():
            raise ValueError(f"column {column!r} of the {role} table holds infinity; use NaN for a missing value")
        if np.isnan(values).all():
            raise ValueError(f"column {column!r} of the {role} table has no non-null value: there is no distribution "
                             "to compare; drop the column")
        return values
    values = np.asarray(values, dtype=object)
    if all(is_null(v) for v in values):
        raise ValueError(f"column {column!r} of the {role} table has no non-null value: there is no distribution to "
                         "compare; drop the column")
    return values


def _sort_key(value):
    return type(value).__name__, str(value)  # bools and str sort apart, each in its own order


def category_codes(columns):
    """Integer codes of categorical columns on their common categories: (list of (N_i,) int64 arrays, categories).

    categories : the distinct non-null values of all the columns, sorted (by type name, then as text)
    codes[i][r] = categories.index(columns[i][r]), or -1 where the cell is null.
    """
    categories = sorted({v for column in columns for v in column if not is_null(v)}, key=_sort_key)
    index = {value: k for k, value in enumerate(categories)}
    codes = [np.fromiter((-1 if is_null(v) else index[v] for v in column), dtype=np.int64, count=len(column))
             for column in columns]
    return codes, categories
