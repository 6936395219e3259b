"""The column-batch convention: what a batch of table rows is in minivae, and how it maps to Arrow and back.

A **batch** is a ``dict`` of column name -> 1-D NumPy array, every array of the same length, in schema order::

    kind        Arrow types                                 batch array                     a null is
    "float"     float16, float32, float64, decimal128/256   float64                         NaN
    "int"       int8 ... int64, uint8 ... uint64            float64                         NaN
    "bool"      bool                                        object: Python bool or None     None
    "string"    string, large_string, string_view           object: Python str or None      None
    "category"  dictionary<values=string or large_string>   object: Python str or None      None

Numbers arrive as float64 so that every numeric column is one kind of array, with NaN as its null. **NaN is null**:
a NaN stored in a float column reads as NaN, like a null, and a NaN written to a float column is stored as a null.
An integer beyond 2**53 is not exact in float64 and is refused on reading, not rounded. Dates, times, timestamps and
durations are refused for now (cast them to a number or a string, or leave them out with ``columns=``), and so are
binary, nested (list, struct, map) and all-null columns. The arrays of a batch that is read are always writeable.

A **schema** is a JSON-able list with one dict per column::

    {"name": "age", "type": "int", "arrow_type": "int32", "nullable": false}

``arrow_type`` is ``str()`` of the Arrow type ("int32", "decimal128(10, 2)", "dictionary<values=string,
indices=int8, ordered=0>"), so a writer restores the exact type: ``to_record_batch`` turns a batch back into Arrow,
rounding nothing silently: an int column takes integral values only, a decimal column values on its scale's grid
(1.25 fits decimal(10, 2), 1.255 does not), and a column that is not nullable takes no null (nor NaN). A numeric
column may also be given as an integer array, a text column as a NumPy string array.

``schema_drift(trained, found)`` lists, one line each, how a table's schema differs from the schema a model was
trained on: the columns missing, the new ones, and the ones whose kind changed (``exact=True``: whose Arrow type
changed). Nullability is not compared: a column that may hold nulls but holds none scores as before.

Example
-------
>>> schema = [{"name": "age", "type": "int", "arrow_type": "int32", "nullable": True}]
>>> schema_drift(schema, [dict(schema[0], type="float", arrow_type="double")])
["column 'age' was int (int32), is now float (double)"]
"""
import re

import numpy as np

from minivae.extras import require

KINDS = ("float", "int", "bool", "string", "category")
_DICTIONARY = re.compile(r"^dictionary<values=(\w+), indices=(\w+), ordered=([01])>$")
_DECIMAL = re.compile(r"^decimal(128|256)\((\d+), (-?\d+)\)$")
_LEAVE_OUT = "cast it to a number or a string, or leave it out (columns=[...] names the columns to read)"


def import_pyarrow():
    """The pyarrow module, after ``require("tables")``: a missing pyarrow is one line naming the extra."""
    require("tables", "tables in Parquet, CSV and lakehouse formats")
    import pyarrow

    return pyarrow


# ------------------------------------------------------------------------------------------ Arrow -> schema
def column_kind(field):
    """The kind ("float", "int", "bool", "string", "category") of an Arrow field, or a ValueError naming the column
    and saying what to do with it."""
    pa, t = import_pyarrow(), field.type
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    if _is_text(t):
        return "string"
    if pa.types.is_dictionary(t) and _is_text(t.value_type):
        return "category"
    if pa.types.is_temporal(t):
        raise ValueError(f"column {field.name!r} holds dates or times ({t}), which minivae does not read yet: "
                         + _LEAVE_OUT)
    if pa.types.is_null(t):
        raise ValueError(f"column {field.name!r} holds no values at all (Arrow type null): leave it out "
                         "(columns=[...] names the columns to read)")
    raise ValueError(f"column {field.name!r} has the Arrow type {t}, which is not a number, a bool or a string: "
                     + _LEAVE_OUT)


def _is_text(t):
    pa = import_pyarrow()
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def describe(arrow_schema, columns=None):
    """The schema list of an Arrow schema (``columns``: those columns only, in that order), or a ValueError at the
    first column minivae cannot read."""
    fields = [arrow_schema.field(name) for name in check_columns(arrow_schema.names, columns)]
    return [{"name": f.name, "type": column_kind(f), "arrow_type": str(f.type), "nullable": bool(f.nullable)}
            for f in fields]


def check_columns(names, columns):
    """``columns`` as a list of names that all exist, each once (None: all of ``names``), else a ValueError."""
    if columns is None:
        return list(names)
    if isinstance(columns, str):
        raise TypeError(f"columns must be a list of column names, got the string {columns!r}; write [{columns!r}]")
    columns = list(columns)
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise ValueError(f"no column {unknown[0]!r} in the table; its columns are {list(names)}")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"columns= names {repeated} more than once; name each column once")
    return columns


# ------------------------------------------------------------------------------------------ schema -> Arrow
def arrow_type(text):
    """The Arrow type whose ``str()`` is ``text`` ("int32", "decimal128(10, 2)", "dictionary<values=string,
    indices=int32, ordered=0>", ...)."""
    pa = import_pyarrow()
    match = _DICTIONARY.match(text)
    if match:
        return pa.dictionary(arrow_type(match.group(2)), arrow_type(match.group(1)), ordered=match.group(3) == "1")
    match = _DECIMAL.match(text)
    if match:
        make = pa.decimal128 if match.group(1) == "128" else pa.decimal256
        return make(int(match.group(2)), int(match.group(3)))
    try:
        return pa.type_for_alias(text)
    except (ValueError, KeyError):
        raise ValueError(f"unknown Arrow type {text!r} in the schema; expected str() of an Arrow type, such as "
                         "'int32', 'double', 'bool', 'string' or 'decimal128(10, 2)'") from None


def to_arrow_schema(schema):
    """The Arrow schema of a schema list, checked: every field has a name, a kind of KINDS, an Arrow type of that
    kind, and a nullable flag."""
    pa = import_pyarrow()
    if not isinstance(schema, (list, tuple)) or not schema:
        raise ValueError("a schema is a non-empty list of {'name', 'type', 'arrow_type', 'nullable'} dicts, "
                         f"one per column; got {type(schema).__name__}")
    fields = []
    for i, column in enumerate(schema):
        missing = {"name", "type", "arrow_type", "nullable"} - set(column if isinstance(column, dict) else ())
        if missing:
            raise ValueError(f"schema entry {i} ({column!r}) lacks {sorted(missing)}; each column needs 'name', "
                             "'type', 'arrow_type' and 'nullable'")
        if column["type"] not in KINDS:
            raise ValueError(f"column {column['name']!r} has type {column['type']!r}; the types are {KINDS}")
        field = pa.field(column["name"], arrow_type(column["arrow_type"]), nullable=bool(column["nullable"]))
        if column_kind(field) != column["type"]:
            raise ValueError(f"column {column['name']!r} says type {column['type']!r} but Arrow type "
                             f"{column['arrow_type']!r}, which is {column_kind(field)!r}: make them agree")
        fields.append(field)
    names = [f.name for f in fields]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"the schema names the column(s) {repeated} more than once; name each column once")
    return pa.schema(fields)


# ------------------------------------------------------------------------------------------ Arrow -> batch
def to_batch(record_batch, schema):
    """A batch (dict of NumPy arrays, the convention above) from an Arrow record batch whose columns ``schema``
    describes."""
    return {c["name"]: _to_numpy(record_batch.column(c["name"]), c) for c in schema}


def _to_numpy(array, column):
    pa = import_pyarrow()
    if column["type"] in ("float", "int"):
        try:
            return array.cast(pa.float64()).to_numpy(zero_copy_only=False, writable=True)
        except pa.ArrowInvalid as err:  # an integer beyond 2**53
            raise ValueError(f"column {column['name']!r} ({column['arrow_type']}) holds a value that float64 "
                             f"cannot hold exactly ({err}); cast it to a string or leave it out") from None
    if column["type"] == "bool":
        values = array.fill_null(False).to_numpy(zero_copy_only=False).astype(object)  # Python bools
        values[array.is_null().to_numpy(zero_copy_only=False)] = None
        return values
    if column["type"] == "category":
        array = array.cast(array.type.value_type)  # dictionary -> its strings
    return array.to_numpy(zero_copy_only=False, writable=True)  # an object array of str and None


# ------------------------------------------------------------------------------------------ batch -> Arrow
def to_record_batch(schema, batch, arrow_schema=None):
    """The Arrow record batch of a batch, in the exact types of ``schema``: the inverse of ``to_batch``.

    Raises ValueError naming the column for: columns missing or not in the schema, arrays of different lengths,
    a null (None or NaN) in a column that is not nullable, a non-integral value in an int column, a value off a
    decimal column's scale, a value out of the Arrow type's range, and values of the wrong kind ("yes" in a bool).
    """
    pa = import_pyarrow()
    arrow_schema = arrow_schema or to_arrow_schema(schema)
    if not isinstance(batch, dict):
        raise TypeError(f"a batch is a dict of column name -> 1-D array, got {type(batch).__name__}")
    missing = [name for name in arrow_schema.names if name not in batch]
    extra = [name for name in batch if name not in arrow_schema.names]
    if missing or extra:
        raise ValueError(f"the batch's columns differ from the schema's: missing {missing}, not in the schema "
                         f"{extra}; give exactly the schema's columns {arrow_schema.names}")
    lengths = {name: len(batch[name]) for name in arrow_schema.names}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the batch's columns have different lengths {lengths}; every column needs one value per row")
    arrays = [_to_arrow(np.asarray(batch[c["name"]]), c, field) for c, field in zip(schema, arrow_schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


def _to_arrow(values, column, field):
    pa, name = import_pyarrow(), column["name"]
    if values.ndim != 1:
        raise ValueError(f"column {name!r} has shape {values.shape}; each column is a 1-D array, one value per row")
    try:
        if column["type"] in ("float", "int"):
            array = _numbers(values, column, field)
        else:
            value_type = field.type.value_type if column["type"] == "category" else field.type
            array = pa.array(values, type=value_type, from_pandas=False)
            if column["type"] == "category":
                array = array.dictionary_encode().cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as err:
        what = {"bool": "True, False or None", "string": "str or None", "category": "str or None"}.get(
            column["type"], f"numbers that {column['arrow_type']} holds")
        raise ValueError(f"column {name!r} ({column['arrow_type']}): {err}; its values must be {what}") from None
    if array.null_count and not field.nullable:
        raise ValueError(f"column {name!r} is not nullable, but the batch holds {array.null_count} null(s) (None or "
                         "NaN) in it; fill them in, or make the column nullable in the schema")
    return array


def _numbers(values, column, field):
    """A numeric array as the column's Arrow numbers; NaN is null. Integers and decimals are checked, not rounded."""
    pa, name, t = import_pyarrow(), column["name"], field.type
    if values.dtype.kind in "iub":  # integers given as integers: no float detour
        return pa.array(values).cast(t)
    values = np.asarray(values, dtype=np.float64)
    null = np.isnan(values)
    if pa.types.is_integer(t) or pa.types.is_decimal(t):
        scale = t.scale if pa.types.is_decimal(t) else 0
        scaled = values[~null] * 10.0 ** scale
        # a decimal on its grid is off by float rounding at most (0.29 * 100 = 28.999999999999996)
        slack = 16 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(scaled)) if scale else 0.0
        off = np.flatnonzero(~np.isfinite(scaled) | (np.abs(scaled - np.round(scaled)) > slack))
        if off.size:
            grid = f"multiples of {10.0 ** -scale:g}" if scale else "integers"
            raise ValueError(f"column {name!r} ({column['arrow_type']}) takes {grid}, but the batch holds "
                             f"{float(values[~null][off[0]])!r} ({off.size} such value(s)); round the values first "
                             "(np.round): minivae does not round or truncate them for you")
        values = np.round(values, scale)
    return pa.array(values, mask=null).cast(t)


# ------------------------------------------------------------------------------------------ drift
def schema_drift(trained, found, exact=False):
    """How schema ``found`` differs from schema ``trained``: a list of one-line differences, empty if none.

    Columns are matched by name (a renamed column shows as one missing and one new). A column whose kind changed is
    one line; with ``exact=True`` so is one whose Arrow type changed within its kind (int32 -> int64). Column order
    and nullability are not compared.

    Example
    -------
    >>> old = [{"name": "a", "type": "float", "arrow_type": "double", "nullable": True}]
    >>> schema_drift(old, [dict(old[0], name="b")])
    ["column 'a' (float) is missing", "column 'b' (float) is new"]
    """
    before, after = {c["name"]: c for c in trained}, {c["name"]: c for c in found}
    lines = [f"column {name!r} ({c['type']}) is missing" for name, c in before.items() if name not in after]
    lines += [f"column {name!r} ({c['type']}) is new" for name, c in after.items() if name not in before]
    for name, old in before.items():
        new = after.get(name)
        if new is not None and (old["type"] != new["type"] or exact and old["arrow_type"] != new["arrow_type"]):
            lines.append(f"column {name!r} was {old['type']} ({old['arrow_type']}), is now {new['type']} "
                         f"({new['arrow_type']})")
    return lines
