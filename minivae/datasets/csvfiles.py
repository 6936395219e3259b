"""CSV files read as their author meant them (compressed or not, split by commas, semicolons or tabs, with or
without a header row), and tables written atomically.

"CSV" is written in several dialects, and reading one as another gives wrong data without an error: a
semicolon-separated file (the UCI wine tables) read with commas is one column of text; a header of column numbers
(``0,1,...,63``, what pandas writes for a DataFrame without column names) read as data is one more, absurd example.
``read_csv_cells`` decides each question from the file itself, by these rules, and says what it decided:

    gzip       the file starts with the gzip magic bytes 1f 8b (whatever its name): it is decompressed first
    text       UTF-8 (a byte-order mark is skipped); a file that is not UTF-8 but holds no NUL byte is read as Latin-1
    delimiter  of ',', ';' and tab, the one that splits the first 100 non-blank lines into one same number (> 1) of
               cells; if several do, ';' before tab before ',' (a ';' file often has decimal commas "7,4", while a
               ',' file rarely has a ';' on every line); if none does, the one that splits most lines alike
    header     the first row is a header if one of its cells is text (neither a number nor a missing-value marker),
               or if it reads 0, 1, ..., D-1 with D >= 3 columns (after an empty first cell when pandas also wrote
               its row index); any other row of numbers is data (1, 2, 3 and 0, 1 are as likely to be an example),
               and so is, when a header is optional, a row that mixes numbers and text (a typo in the first example
               must not silently remove it: its error says where)
    index      a first column named "" or "Unnamed: 0" that holds 0, 1, ..., N-1 is the row index pandas writes by
               default, not data: it is dropped
    blank      lines with no cells, or only empty ones, are skipped

Cells are stripped of surrounding spaces. Missing-value markers ("", "n/a", "?", ...; ``minivae.datasets.missing``)
are left in the cells: the caller knows what the column holds and what the user asked for. ``read_csv_table`` reads
a table (a header row required) as lists of strings, ``write_csv_table`` writes one.

Example
-------
>>> cells = read_csv_cells("winequality-red.csv")            # doctest: +SKIP
>>> cells.delimiter, cells.header[:2], cells.rows[0][:2]      # doctest: +SKIP
(';', ['fixed acidity', 'volatile acidity'], ['7.4', '0.7'])
>>> cells.summary()                                           # doctest: +SKIP
"winequality-red.csv: 1599 rows x 12 columns, ';'-separated, a header row of column names"
"""
import collections
import csv
import gzip
import io
import pathlib
import zlib
from dataclasses import dataclass, field

from minivae.datasets.dataset import DamagedFileError
from minivae.datasets.missing import is_missing
from minivae.fileio import atomic_write

DELIMITERS = (";", "\t", ",")  # in the order of preference when several split every line alike
_SAMPLE_LINES = 100
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}
_INDEX_NAMES = ("", "Unnamed: 0")


@dataclass
class CsvCells:
    """The cells of a CSV file and what the reader decided about it.

    ``header``: the column names (strings), or None; ``rows``: one list of stripped cells per data row, all of the
    same length; ``lines``: the line of the file each row was on (1-based, for messages); ``delimiter``; ``notes``:
    the decisions worth telling (gzip, a header of column numbers, a dropped index column), in words; ``numbered``:
    whether the header was pandas' column numbers 0..D-1.
    """
    path: pathlib.Path
    header: list | None
    rows: list
    lines: list
    delimiter: str
    notes: list = field(default_factory=list)
    numbered: bool = False

    @property
    def notable(self):
        """Whether the reader decided anything a user might not expect: not ',', or a note (gzip, a numeric header,
        a dropped index column, Latin-1). A plain comma file needs no word."""
        return self.delimiter != "," or bool(self.notes)

    def summary(self):
        """One line for the user: size, delimiter, header, and the notes."""
        width = len(self.rows[0]) if self.rows else len(self.header or [])
        head = ("no header row" if self.header is None else "a header row of column numbers" if self.numbered
                else "a header row of column names")
        parts = [f"{len(self.rows)} rows x {width} columns", f"{_DELIMITER_NAMES[self.delimiter]}-separated",
                 head] + self.notes
        return f"{self.path.name}: " + ", ".join(parts)


def read_csv_cells(path, header="detect") -> CsvCells:
    """Read a CSV file (plain or gzip) into cells, detecting its delimiter, its header row and a pandas index.

    Parameters
    ----------
    path : the file
    header : "detect" (a header row is optional: the rules in the module docstring decide) or "required" (the
        first row must be a header; a first row that looks like data is an error that says so)

    Raises FileNotFoundError for a missing file and ValueError, naming the file and line, for a binary or
    undecodable file, a first row that is data when a header is required, and rows of differing lengths. An empty
    file gives no rows (the caller says what it needed).
    """
    path = pathlib.Path(path)
    if header not in ("detect", "required"):
        raise ValueError(f"header must be 'detect' or 'required', got {header!r}")
    text, notes = _read_text(path)
    delimiter = detect_delimiter(text)
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells):  # skip blank lines
                rows.append(cells)
                lines.append(reader.line_num)
    except csv.Error as err:  # e.g. a quoted cell that never ends
        raise ValueError(f"{path}, line {reader.line_num}: not a readable CSV row ({err})") from None
    names = None
    if rows:
        kind = header_kind(rows[0])
        if kind == "names" and header == "detect" and any(_to_number(cell) is not None for cell in rows[0]):
            kind = None  # numbers and text: an example with a typo (its error says where), not a header
        if kind is None and header == "required":
            raise ValueError(f"{path}, line {lines[0]}: the first row {rows[0][:8]} holds only numbers; a header "
                             "row of column names is required, add one (e.g. x1,x2,...)")
        if kind is not None:
            names, rows, header_line, lines = rows[0], rows[1:], lines[0], lines[1:]
            if kind == "numbers":
                notes.append(f"the first row (line {header_line}) reads {_numbers_text(names)}: taken as the "
                             "column numbers pandas writes, not as an example")
    _check_lengths(path, names, rows, lines)
    if names is not None and rows and names[0] in _INDEX_NAMES and _is_row_index([row[0] for row in rows]):
        names, rows = names[1:], [row[1:] for row in rows]
        notes.append(f"dropped the first column: an unnamed row index 0..{len(rows) - 1}, as pandas writes it")
    return CsvCells(path, names, rows, lines, delimiter, notes, kind == "numbers" if names is not None else False)


# ------------------------------------------------------------------------------------------------ tables of cells
def read_csv_table(path):
    """Read a CSV file with a header row: returns (header, rows), the column names and the rows as lists of strings.

    The file is read as its author meant it (``minivae.datasets.csvfiles``): plain or gzip, ',' or ';' or tab
    separated, a pandas header of column numbers 0..D-1 and a pandas row index recognised. Cells are stripped of
    surrounding spaces; blank lines are skipped. Raises ValueError, naming the file and line, for an empty file, a
    file with a header but no data, a first row that looks like data (no header), empty or repeated column names,
    and rows whose length differs from the header's.

    Example
    -------
    >>> header, rows = read_csv_table("table.csv")   # doctest: +SKIP
    >>> header, rows[0]                              # doctest: +SKIP
    (['height', 'colour'], ['175.2', 'red'])
    """
    cells = read_table_cells(path)
    return cells.header, cells.rows


def read_table_cells(path):
    """The CsvCells of a table file (a header row required and checked), as ``read_csv_table`` reads it."""
    cells = read_csv_cells(path, header="required")
    if cells.header is None:
        raise ValueError(f"{path} is empty; expected a header row of column names followed by data rows")
    cells.header = check_header(cells.header, f"{path}, header")
    if not cells.rows:
        raise ValueError(f"{path} has a header {cells.header} but no data rows")
    return cells


def check_header(names, where):
    """The column names as a list, or a ValueError: names that are all numbers (other than pandas' 0..D-1), an
    empty name, a repeated one."""
    if all(_to_number(name) is not None for name in names) and header_kind(names) != "numbers":
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


# -------------------------------------------------------------------------------------------------- the decisions
def detect_delimiter(text):
    """The delimiter of ``DELIMITERS`` that splits the first 100 non-blank lines into one same number (> 1) of
    cells; ';' before tab before ',' when several do; "," for a file of one column.

    Example
    -------
    >>> detect_delimiter('"a";"b"\\n7,4;1\\n')
    ';'
    """
    sample = [line for line in text.splitlines() if line.strip()][:_SAMPLE_LINES]
    best, best_share = ",", 0.0
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(sample, delimiter=delimiter)]
        if not widths:
            continue
        width, count = collections.Counter(widths).most_common(1)[0]  # the most common number of cells per line
        if width > 1 and count / len(widths) > best_share:  # strictly better: the earlier delimiter wins a tie
            best, best_share = delimiter, count / len(widths)
    return best


def header_kind(row):
    """"names" if a cell of ``row`` is text, "numbers" for the column numbers pandas writes, else None (data).

    Example
    -------
    >>> header_kind(["height", "7"]), header_kind(["0", "1", "2"]), header_kind(["", "0", "1", "2"])
    ('names', 'numbers', 'numbers')
    >>> header_kind(["0", "1"]), header_kind(["7.4", "n/a", "3"])      # data
    (None, None)
    """
    if any(not is_missing(cell) and _to_number(cell) is None for cell in row):
        return "names"
    numbers = row[1:] if row and row[0] == "" else row
    if len(numbers) >= 3 and all(cell.isdigit() for cell in numbers):
        values = [int(cell) for cell in numbers]
        if values == list(range(len(values))):
            return "numbers"
    return None


def _is_row_index(cells):
    return all(cell.isdigit() for cell in cells) and [int(cell) for cell in cells] == list(range(len(cells)))


def _numbers_text(names):
    shown = [c for c in names if c != ""]
    return ",".join(shown) if len(shown) <= 4 else f"{shown[0]},{shown[1]},...,{shown[-1]}"


def _to_number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------------- bytes to text
def _read_text(path):
    """The file's text and the notes on how it was read (gzip, Latin-1)."""
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a CSV file")
    raw, notes = path.read_bytes(), []
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DamagedFileError(f"{path} starts like a gzip file but is not a valid one ({err}); it may be "
                                   "truncated: compress it again, or give the uncompressed file") from None
        notes.append("gzip-compressed")
    if raw[:6] == b"\x93NUMPY" or raw[:4] == b"PK\x03\x04":
        raise ValueError(f"{path} is a NumPy file (.npy or .npz), not a CSV: give it its own suffix")
    try:
        return raw.decode("utf-8-sig"), notes
    except UnicodeDecodeError as err:
        if b"\x00" in raw:
            raise ValueError(f"{path} is not a text file (it holds NUL bytes; byte {err.start} is "
                             f"0x{raw[err.start]:02x}); expected a CSV of numbers and words") from None
        notes.append("not UTF-8: read as Latin-1")
        return raw.decode("latin-1"), notes


def _check_lengths(path, header, rows, lines):
    """Every row as long as the header (or, without one, as the first row); a clear error at the first that is not."""
    width = len(header) if header is not None else (len(rows[0]) if rows else 0)
    for cells, line in zip(rows, lines):
        if len(cells) != width:
            if header is not None:
                raise ValueError(f"{path}, line {line}: {len(cells)} values, but the header has {width} columns "
                                 f"{header[:8]}; every row needs one value per column")
            raise ValueError(f"{path}, line {line}: {len(cells)} values, but earlier rows have {width}")
