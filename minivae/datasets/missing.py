"""Missing values: found, reported, and handled only in the way the user chose.

A missing value is an empty cell of a CSV file, a cell holding one of the markers that spreadsheets and libraries
write for "no value" (``MISSING_MARKERS``, compared without case: "?", "NA", "n/a", "nan", "null", "None", "#N/A",
"<NA>"), or NaN in a NumPy array. Guessing is what this module refuses to do: a numeric column with one "n/a" is not
a column of text, and a row with a hole is not a complete example. So by default (``missing="error"``) a loader stops
with a report of how many values are missing, in which columns, on which lines. The two other choices are explicit
(``--missing-values`` on the command line):

    "drop"   leave out every row (example) with a missing value; the note says how many rows went, and which
    "mean"   fill in each missing value: a numeric column's mean over its present values, a categorical column's
             most frequent value (a tie goes to the first in sorted order); the note gives the counts and values

Filling with the mean leaves each column's mean as it was, and a fitted ``TabularEncoder`` records each column's
mean and most frequent value, so a later command that reads a table with a run's encoder fills in the values the
run was trained with (``fill`` below), not the values of the file it happens to read.

Example
-------
>>> x = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
>>> x_filled, keep, notes = handle_missing_array("x.npy", x, ["a", "b"], [0, 1, 2], "row", "mean")
>>> x_filled[1].tolist(), keep, notes
([2.0, 4.0], None, ["filled 1 missing value: column 'a': 1 with its mean 2"])
"""
import collections

import numpy as np

MISSING_MARKERS = ("", "?", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>")
MISSING_CHOICES = ("error", "drop", "mean")
_MARKERS = frozenset(MISSING_MARKERS)
_SHOWN = 5  # row numbers shown per column


def is_missing(cell):
    """True if a CSV cell stands for a missing value (see ``MISSING_MARKERS``); NaN floats count too."""
    if isinstance(cell, float):
        return cell != cell  # NaN is the only value not equal to itself
    return str(cell).strip().lower() in _MARKERS


def check_choice(missing):
    """``missing`` if it is one of ``MISSING_CHOICES``, else a ValueError that lists them."""
    if missing == "keep":
        raise ValueError("missing values are kept (as nulls the model learns) in tables only (train --table); for "
                         "arrays choose 'error', 'drop' or 'mean'")
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {', '.join(map(repr, MISSING_CHOICES))} (what to do with missing "
                         f"values: refuse, drop the rows, or fill in the column means), got {missing!r}")
    return missing


# ------------------------------------------------------------------------------------------------------ tables
def handle_missing_cells(where, header, rows, lines, missing, numeric, fill=None):
    """The table's rows with their missing cells handled as ``missing`` says; returns (rows, lines, notes).

    Parameters
    ----------
    where : the file, for messages      header : the D column names      rows : lists of D cells (strings)
    lines : the file's line of each row  missing : "error", "drop" or "mean"
    numeric : D booleans, True for a numeric column (the caller decides: a column whose present cells are numbers)
    fill : optional {column name: cell} of the values to fill in (a fitted encoder's), instead of computing them

    "error" raises ValueError with the report; "drop" returns the complete rows only; "mean" returns new rows with
    each missing cell replaced by the text of the fill value (``repr`` of a float: no digit is lost).
    """
    check_choice(missing)
    holes = {j: [i for i, row in enumerate(rows) if is_missing(row[j])] for j in range(len(header))}
    holes = {j: found for j, found in holes.items() if found}
    if not holes:
        return rows, lines, []
    if missing == "error":
        markers = {rows[i][j] for j, found in holes.items() for i in found}
        raise ValueError(_report(where, {_column(header[j]): [lines[i] for i in found] for j, found in holes.items()},
                                 _marker_text(markers), "line"))
    if missing == "drop":
        bad = sorted({i for found in holes.values() for i in found})
        if len(bad) == len(rows):
            raise ValueError(f"{where}: every row has a missing value, so dropping them leaves nothing; fill them "
                             "in (--missing-values mean) or drop the columns that have most of them")
        keep = [i for i in range(len(rows)) if i not in set(bad)]
        where_dropped = _positions([lines[i] for i in bad], "line")
        return ([rows[i] for i in keep], [lines[i] for i in keep],
                [f"dropped {_count(len(bad), 'row')} with missing values ({where_dropped})"])
    fill = dict(fill or {})
    rows = [list(row) for row in rows]
    filled = []
    for j, found in holes.items():
        name = header[j]
        if name not in fill:
            present = [row[j] for row in rows if not is_missing(row[j])]
            if not present:
                raise ValueError(f"{where}: column {name!r} has no values at all (every cell is missing); drop it")
            fill[name] = repr(float(np.mean([float(v) for v in present]))) if numeric[j] else most_frequent(present)
        for i in found:
            rows[i][j] = fill[name]
        what = f"its mean {float(fill[name]):.6g}" if numeric[j] else f"its most frequent value {fill[name]!r}"
        filled.append(f"{_column(name)}: {len(found)} with {what}")
    total = sum(len(found) for found in holes.values())
    return rows, lines, [f"filled {_count(total, 'missing value')}: " + "; ".join(filled)]


def most_frequent(cells):
    """The most common of ``cells``; a tie goes to the first in sorted order (so the choice is reproducible)."""
    counts = collections.Counter(cells)
    return min(counts, key=lambda cell: (-counts[cell], cell))


# ------------------------------------------------------------------------------------------------------ arrays
def handle_missing_array(where, x, columns, positions, unit, missing):
    """An (N, D) float array with its NaN entries handled as ``missing`` says; returns (x, keep, notes).

    ``columns``: the D column names for messages (header names, or numbers); ``positions``: the N row numbers to
    show (file lines, or indices), ``unit`` what they are ("line" or "row"). ``keep`` is the (N,) boolean mask of
    kept rows for "drop" (apply it to the labels too), else None. "mean" replaces each NaN with its column's mean
    over the present values; x is returned as a new float64 array.
    """
    check_choice(missing)
    nan = np.isnan(x)  # (N, D)
    if not nan.any():
        return x, None, []
    bad_columns = np.flatnonzero(nan.any(axis=0))
    if missing == "error":
        found = {_column(columns[j]): [positions[i] for i in np.flatnonzero(nan[:, j])] for j in bad_columns}
        raise ValueError(_report(where, found, "NaN", unit))
    if missing == "drop":
        keep = ~nan.any(axis=1)
        if not keep.any():
            raise ValueError(f"{where}: every row has a missing value, so dropping them leaves nothing; fill them "
                             "in (--missing-values mean) or drop the columns that have most of them")
        dropped = [positions[i] for i in np.flatnonzero(~keep)]
        return x[keep], keep, [f"dropped {_count(len(dropped), 'row')} with missing values "
                               f"({_positions(dropped, unit)}{', from 0' if unit == 'row' else ''})"]
    x = np.array(x, dtype=np.float64)
    filled = []
    for j in bad_columns:
        if nan[:, j].all():
            raise ValueError(f"{where}: {_column(columns[j])} has no values at all (every entry is missing); drop it")
        mean = float(np.mean(x[~nan[:, j], j]))
        x[nan[:, j], j] = mean
        filled.append(f"{_column(columns[j])}: {int(nan[:, j].sum())} with its mean {mean:.6g}")
    return x, None, [f"filled {_count(int(nan.sum()), 'missing value')}: " + "; ".join(filled)]


# ----------------------------------------------------------------------------------------------------- messages
def _report(where, found, markers, unit):
    """The refusal: how many, which columns, which rows, and the two options."""
    total = sum(len(rows) for rows in found.values())
    columns = "; ".join(f"{name}: {len(rows)} at {_positions(rows, unit)}" for name, rows in found.items())
    count_from = " (rows and columns count from 0)" if unit == "row" else ""
    return (f"{where}: {_count(total, 'missing value')} ({markers}) in {_count(len(found), 'column')}: {columns}"
            f"{count_from}. "
            "They are not guessed: pass --missing-values drop to leave those rows out, or --missing-values mean to "
            "fill in each column's mean (a categorical column's most frequent value); in Python missing='drop' or "
            "missing='mean'")


def _positions(numbers, unit):
    shown = ", ".join(str(n) for n in numbers[:_SHOWN])
    more = f" and {len(numbers) - _SHOWN} more" if len(numbers) > _SHOWN else ""
    return f"{unit}{'s' if len(numbers) > 1 else ''} {shown}{more}"


def _column(name):
    return f"column {name!r}" if isinstance(name, str) else f"column {name}"


def _marker_text(markers):
    return "cells " + ", ".join("empty" if m == "" else repr(m) for m in sorted(markers))


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"
