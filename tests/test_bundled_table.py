"""The bundled real tables: each file is where BUNDLED_TABLES says, with its checksum, its rows and its columns as
files/README.md states them; an unknown name and a damaged file are refused with one line that says what to do."""
import csv
import gzip
import hashlib
import io

import pytest

from minivae.datasets import catalog
from minivae.datasets.catalog import BUNDLED_TABLES, bundled_table
from minivae.datasets.dataset import DamagedFileError

PENGUIN_COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex",
                   "year"]
PENGUINS_CSV_SHA256 = "f204db2c753b0937caac3cb35258562c14f073e4bbc76be24b4c51ce22767a93"  # the uncompressed bytes


def penguin_rows():
    """The header and the rows of the bundled penguins, read with the standard library alone."""
    text = gzip.decompress(bundled_table("penguins").read_bytes()).decode("utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


def test_every_bundled_table_passes_its_checksum():
    for name, (filename, sha256) in BUNDLED_TABLES.items():
        path = bundled_table(name)
        assert path.name == filename
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_the_uncompressed_penguins_are_the_published_bytes():
    raw = gzip.decompress(bundled_table("penguins").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == PENGUINS_CSV_SHA256


def test_the_penguins_have_344_rows_of_8_columns_and_19_null_cells():
    header, rows = penguin_rows()
    assert header == PENGUIN_COLUMNS
    assert len(rows) == 344
    assert all(len(row) == 8 for row in rows)
    assert sum(cell == "NA" for row in rows for cell in row) == 19
    assert sum("NA" in row for row in rows) == 11
    species = [row[0] for row in rows]
    assert {s: species.count(s) for s in set(species)} == {"Adelie": 152, "Chinstrap": 68, "Gentoo": 124}


def test_an_unknown_table_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown bundled table 'iris'.*penguins"):
        bundled_table("iris")


def test_a_damaged_table_file_is_refused(monkeypatch):
    filename, _ = BUNDLED_TABLES["penguins"]
    monkeypatch.setitem(catalog.BUNDLED_TABLES, "penguins", (filename, "0" * 64))
    with pytest.raises(DamagedFileError, match="penguins.csv.gz is damaged.*sha256.*reinstall minivae"):
        bundled_table("penguins")
