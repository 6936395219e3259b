"""Hostile input: one row per case, the files it needs, the command (or call), what must happen, and what it must say.

A row is (files, run, expect, says):

    files    {file name: contents} written into the test's folder: text (str), bytes, an array (saved with np.save),
             a dict of arrays (np.savez), or a function of the path that writes it
    run      the command line of ``python -m minivae`` ("{tmp}": the folder; "{ckpt}": a small trained run on flat
             8 x 8 data), or a function of the folder that calls the library
    expect   the exit status (0: it works), or the exception the call raises
    says     a fragment (or a tuple of fragments) of what the user reads: the error line, or the output when it works

Every failing command must end with one line "error: ..." (argparse's usage line may come before it, for a value
refused when parsed) and show no traceback. To add a case, add a row: the suite grows with every bug found.
"""
import argparse
import gzip
import io

import numpy as np
import pytest

from minivae.cli import options
from minivae.cli.main import main
from minivae.datasets import load_dataset
from minivae.datasets.dataset import DamagedFileError, check_test_set
from minivae.datasets.tables import TabularEncoder, table_dataset
from minivae.validation import check_training_memory

RNG = np.random.default_rng(0)
TRAIN = ["--epochs", "1", "--hidden", "4", "--out", "{tmp}/run", "--quiet", "--no-figures"]


def text_rows(header, rows, delimiter=","):
    return "".join(delimiter.join(str(c) for c in row) + "\n" for row in [header] + rows)


# --------------------------------------------------------------------------------------------- file contents
WINE_HEADER = ['"fixed acidity"', '"volatile acidity"', '"citric acid"', '"alcohol"', '"quality"']
WINE = text_rows(WINE_HEADER, [[f"{RNG.normal(8.3, 1.7):.1f}", f"{RNG.normal(0.53, 0.18):.2f}",
                                f"{RNG.uniform(0, 0.8):.2f}", f"{RNG.normal(10.4, 1.1):.1f}", int(RNG.integers(3, 9))]
                               for _ in range(60)], ";")  # as the UCI wine-quality tables are written
DIGITS = RNG.random((40, 64)).round(3)  # flat 8 x 8 "images" in [0, 1]
PANDAS_HEADER = text_rows(list(range(64)), DIGITS.tolist())  # DataFrame(x).to_csv(index=False)
PANDAS_INDEX = text_rows([""] + list(range(64)), [[i] + row for i, row in enumerate(DIGITS.tolist())])  # to_csv()
NA_TABLE = text_rows(["height", "weight", "colour"],
                     [["n/a" if i in (3, 17) else f"{RNG.normal(170, 10):.1f}", f"{RNG.normal(60, 5):.1f}",
                       "" if i == 5 else ("red" if i % 2 else "blue")] for i in range(40)])  # n/a on lines 5, 19
NA_NUMBERS = text_rows(["a", "b"], [[f"{v:.2f}", "NA" if i == 4 else ("" if i == 9 else f"{1 - v:.2f}")]
                                    for i, v in enumerate(RNG.random(30))])
WITH_NAN = np.where(RNG.random((30, 4)) < 0.05, np.nan, RNG.random((30, 4)))


def saved(save, *args, **kwargs):
    """The bytes np.save or np.savez would write."""
    buffer = io.BytesIO()
    save(buffer, *args, **kwargs)
    return buffer.getvalue()


TRUNCATED_NPY = saved(np.save, DIGITS)[:-100]  # a copy cut short
TRUNCATED_NPZ = saved(np.savez, x=DIGITS)[:-50]
LABELS = RNG.integers(0, 3, 40)
TYPO = text_rows(["x", "y"], [["1.2.3" if i == 7 else i, 2 * i] for i in range(80)])  # line 9


def corrupt_cache(path):
    """A cache folder with the four MNIST files present but damaged."""
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (path / "mnist").mkdir(parents=True, exist_ok=True)
        (path / "mnist" / name).write_bytes(b"not the file")


# --------------------------------------------------------------------------------------------------- the table
ROWS = [
    # CSV read as meant: the delimiter, a numeric header, a pandas index, gzip
    ({"wine.csv": WINE}, ["train", "--table", "{tmp}/wine.csv", *TRAIN], 0,
     ("wine.csv: 60 rows x 5 columns, ';'-separated, a header row", "54 train / 6 test")),
    ({"wine.csv": WINE}, ["train", "--data", "{tmp}/wine.csv", "--likelihood", "gaussian", *TRAIN], 0,
     ("';'-separated", "data: wine, 54 train / 6 test")),
    ({"digits.csv": PANDAS_HEADER}, ["train", "--data", "{tmp}/digits.csv", *TRAIN], 0,
     ("a header row of column numbers, the first row (line 1) reads 0,1,...,63: taken as the column numbers pandas "
      "writes, not as an example", "36 train / 4 test")),
    ({"digits.csv": PANDAS_INDEX}, ["train", "--data", "{tmp}/digits.csv", *TRAIN], 0,
     ("dropped the first column: an unnamed row index", "input_dim=64")),
    ({"wine.csv.gz": gzip.compress(WINE.encode())}, ["train", "--table", "{tmp}/wine.csv.gz", *TRAIN], 0,
     "gzip-compressed"),
    ({"digits.csv": gzip.compress(PANDAS_HEADER.encode())}, ["train", "--data", "{tmp}/digits.csv", *TRAIN], 0,
     ("gzip-compressed", "36 train / 4 test")),
    ({"broken.csv.gz": gzip.compress(WINE.encode())[:-30]}, ["train", "--table", "{tmp}/broken.csv.gz", *TRAIN], 1,
     "starts like a gzip file but is not a valid one"),
    ({"d.csv": "1.2.3,4\n" + "".join(f"{i},{i}\n" for i in range(20))}, ["train", "--data", "{tmp}/d.csv", *TRAIN], 2,
     "line 1, column 1: '1.2.3' is not a number"),  # a typo in the first row is not a header
    ({"d.csv": "a;b;c\n7,4;0,7;1\n8,1;0,5;2\n"}, ["train", "--data", "{tmp}/d.csv", *TRAIN], 2, "a decimal comma?"),
    ({"t.csv": "a,b\nred,1\nblue,2\n"}, ["train", "--data", "{tmp}/t.csv", *TRAIN], 2,
     "'red' is not a number; a CSV given as --data holds numbers only (a table of numbers and words: train --table)"),
    # missing values: reported where and how many, handled only by --missing-values
    ({"t.csv": NA_TABLE}, ["train", "--table", "{tmp}/t.csv", *TRAIN], 0,
     ("kept 3 missing value(s) as nulls", "height: numeric, identity, [", "nulls; weight", "colour: 3 categories (one is "
      "null)")),
    ({"t.csv": NA_TABLE}, ["train", "--table", "{tmp}/t.csv", "--missing-values", "error", *TRAIN], 2,
     ("3 missing values (cells empty, 'n/a') in 2 columns: column 'height': 2 at lines 5, 19; column 'colour': 1 at "
      "line 7", "--missing-values drop", "--missing-values mean")),
    ({"t.csv": NA_TABLE}, ["train", "--table", "{tmp}/t.csv", "--missing-values", "drop", *TRAIN], 0,
     ("dropped 3 rows with missing values (lines 5, 7, 19)", "34 train / 3 test")),
    ({"t.csv": NA_TABLE}, ["train", "--table", "{tmp}/t.csv", "--missing-values", "mean", *TRAIN], 0,
     ("filled 3 missing values: column 'height': 2 with its mean", "column 'colour': 1 with its most frequent value")),
    ({"n.csv": NA_NUMBERS}, ["train", "--data", "{tmp}/n.csv", *TRAIN], 2,
     "2 missing values (NaN) in 1 column: column 'b': 2 at lines 6, 11"),
    ({"n.csv": NA_NUMBERS}, ["train", "--data", "{tmp}/n.csv", "--missing-values", "drop", *TRAIN], 0,
     ("dropped 2 rows with missing values (lines 6, 11)", "25 train / 3 test")),
    ({"x.npy": WITH_NAN}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 2, ("missing values (NaN)", "count from 0")),
    ({"x.npy": WITH_NAN}, ["train", "--data", "{tmp}/x.npy", "--missing-values", "mean", *TRAIN], 0,
     "with its mean"),
    ({"x.npy": np.array([[0.5, np.inf]] * 20)}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 2, "infinity is not"),
    # labels in an .npz
    ({"l.npz": {"x": DIGITS, "y": LABELS}}, ["train", "--data", "{tmp}/l.npz", "--model", "cvae", *TRAIN], 0,
     ("used array 'x' as the data and 'y' as the labels", "n_classes=3")),
    ({"l.npz": {"images": DIGITS, "labels": LABELS}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 0,
     "used array 'images' as the data and 'labels' as the labels"),
    ({"l.npz": {"a": DIGITS, "b": DIGITS}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 2,
     "holds arrays ['a', 'b'] and none is clearly the data"),
    ({"l.npz": {"x": DIGITS, "data": DIGITS}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 2,
     "of which ['x', 'data'] could all be the data"),
    ({"l.npz": {"x": DIGITS, "y": LABELS + 0.5}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 2,
     "the labels 'y' must be integer class labels 0, 1, ..., C-1; 1.5 is not one"),
    ({"l.npz": {"x": DIGITS, "y": LABELS[:39]}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 2,
     "hold 39 labels, but the data hold 40 examples"),
    ({"l.npz": {"x": DIGITS, "y": LABELS - 1}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 2, "but include -1"),
    ({"l.npz": {"x": DIGITS, "y": np.eye(3)[LABELS]}}, ["train", "--data", "{tmp}/l.npz", *TRAIN], 2,
     "one-hot labels: y.argmax(axis=1)"),
    # flat data as images
    ({"flat.npy": DIGITS}, ["train", "--data", "{tmp}/flat.npy", "--image-shape", "8,8", "--model", "conv",
                            "--epochs", "1", "--out", "{tmp}/run", "--quiet", "--no-figures"], 0,
     "ConvVAE(latent_dim=2, image_shape=(8, 8)"),
    ({}, ["reconstruct", "{ckpt}", "--out", "{tmp}/r.png"], 0, "wrote"),  # the run recorded its image shape
    ({}, ["manifold", "{ckpt}", "-n", "5", "--out", "{tmp}/m.png"], 0, "wrote"),
    ({"flat.npy": DIGITS}, ["train", "--data", "{tmp}/flat.npy", "--image-shape", "7,8", *TRAIN], 2,
     "image shape 7x8 = 56 pixels does not fit samples of 64 values"),
    ({"flat.npy": DIGITS}, ["train", "--data", "{tmp}/flat.npy", "--image-shape", "8", *TRAIN], 2,
     "argument --image-shape: expected H,W, two integers >= 1 (e.g. 8,8 or 28,28), got '8'"),
    ({"wine.csv": WINE}, ["train", "--table", "{tmp}/wine.csv", "--image-shape", "1,5", *TRAIN], 2,
     "is a table: its rows are not images"),
    # damaged, empty, tiny and out-of-range data
    ({"x.npy": TRUNCATED_NPY}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 1, "x.npy is truncated or corrupt"),
    ({"x.npz": TRUNCATED_NPZ}, ["train", "--data", "{tmp}/x.npz", *TRAIN], 1, "x.npz is truncated or corrupt"),
    ({"x.npy": "1,2\n3,4\n"}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 2, "x.npy is not a NumPy file"),
    ({"x.npy": DIGITS[:2]}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 2,
     "has 2 examples; a train and a test set need at least 3"),
    ({"x.npy": DIGITS[:14]}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 0, "12 train / 2 test"),  # 1 test example
    ({"x.npy": (DIGITS * 255).astype(np.uint8)}, ["train", "--data", "{tmp}/x.npy", *TRAIN], 2,
     ("divide by 255", "pass --rescale")),
    ({"t.csv": "a|b|c\n" + "".join(f"{i}|{i}|{i}\n" for i in range(30))}, ["train", "--table", "{tmp}/t.csv", *TRAIN],
     2, "has a single column 'a|b|c'; a table needs at least two"),
    ({"t.csv": "x,c\n" + "".join(f"{i},red\n" for i in range(30))}, ["train", "--table", "{tmp}/t.csv", *TRAIN], 0,
     "c: constant 'red'"),  # written as it is into every synthetic row
    ({"t.csv": ""}, ["train", "--table", "{tmp}/t.csv", *TRAIN], 2, "t.csv is empty"),
    ({"t.csv": "a,b\n\n"}, ["train", "--table", "{tmp}/t.csv", *TRAIN], 2, "has a header ['a', 'b'] but no data rows"),
    ({"t.csv": TYPO}, ["train", "--table", "{tmp}/t.csv", *TRAIN], 2,
     "column 'x' holds numbers except in 1 row(s) (line 9: '1.2.3')"),
    ({"cache": corrupt_cache}, ["train", "--data", "mnist", "--cache-dir", "{tmp}/cache", "--no-download", *TRAIN], 1,
     ("is corrupt or incomplete", "it was left in place", "run again without --no-download")),
    # numbers on the command line, refused when parsed, or with the indices that exist
    ({}, ["interpolate", "{ckpt}", "-a", "99999", "--out", "{tmp}/i.png"], 2,
     "-a 99999 is not an index of the test set, which has 4 examples (0 to 3)"),
    ({}, ["sample", "{ckpt}", "-n", "0", "--out", "{tmp}/s.png"], 2,
     "argument -n: expected an integer from 1 to 2500, got '0'"),
    ({}, ["manifold", "{ckpt}", "-n", "100000", "--out", "{tmp}/m.png"], 2, "expected an integer from 2 to 100"),
    ({}, ["manifold", "{ckpt}", "--dims", "0", "-1", "--out", "{tmp}/m.png"], 2,
     "argument --dims: expected an integer >= 0, got '-1'"),
    ({}, ["traverse", "{ckpt}", "--range", "0", "--out", "{tmp}/t.png"], 2,
     "argument --range: expected a number > 0, got '0'"),
    ({}, ["evaluate", "{ckpt}", "-k", "-1"], 2, "argument -k: expected an integer from 0 to 100000, got '-1'"),
    ({}, ["anomaly", "{ckpt}", "-k", "0", "--method", "iwae"], 2, "expected an integer from 1 to 100000, got '0'"),
    ({}, ["impute", "{ckpt}", "--fraction", "0", "--missing", "random"], 2,
     "argument --fraction: expected a number in (0, 1], got '0'"),
    ({}, ["impute", "{ckpt}", "--fraction", "nan", "--missing", "random"], 2, "expected a number in (0, 1], got 'nan'"),
    ({}, ["sample", "{ckpt}", "--seed", "-3"], 2, "argument --seed: expected an integer >= 0, got '-3'"),
    ({}, ["synthesize", "{ckpt}", "-n", "100000000000", "--out", "{tmp}/s.npz"], 2,
     "more than the limit of 8 GiB; write them in several runs"),
    ({}, ["evaluate", "{ckpt}", "--missing-values", "guess"], 2, "argument --missing-values: invalid choice: 'guess'"),
    # the type= helpers for the train options, called as argparse calls them
    ({}, lambda tmp: options.hidden_sizes("1000000000"), argparse.ArgumentTypeError,
     "hidden sizes 1000000000 would need at least 127 GiB to train"),
    ({}, lambda tmp: options.hidden_sizes("512,0"), argparse.ArgumentTypeError, "integers >= 1"),
    ({}, lambda tmp: options.latent_size("1000000000"), argparse.ArgumentTypeError, "at least 96.9 GiB"),
    ({}, lambda tmp: options.nonnegative_int("-1"), argparse.ArgumentTypeError, "expected an integer >= 0, got '-1'"),
    ({}, lambda tmp: options.positive_int("0"), argparse.ArgumentTypeError, "expected an integer >= 1, got '0'"),
    ({}, lambda tmp: options.positive_float("-1"), argparse.ArgumentTypeError, "expected a number > 0, got '-1'"),
    ({}, lambda tmp: options.nonnegative_float("inf"), argparse.ArgumentTypeError, "a number >= 0, got 'inf'"),
    ({}, lambda tmp: options.fraction("1"), argparse.ArgumentTypeError, "expected a number in [0, 1), got '1'"),
    ({}, lambda tmp: options.probability("1.5"), argparse.ArgumentTypeError, "a number in [0, 1], got '1.5'"),
    ({}, lambda tmp: options.class_labels("2,-3"), argparse.ArgumentTypeError, "class labels, integers >= 0"),
    ({}, lambda tmp: options.image_shape("0,8"), argparse.ArgumentTypeError, "H,W"),
    ({}, lambda tmp: check_training_memory(784, (100_000, 100_000), 2), ValueError,
     "would need about 301 GiB to train with batches of 128"),
    # the library, called directly
    ({"x.npy": DIGITS}, lambda tmp: load_dataset(tmp / "x.npy", missing="guess"), ValueError,
     "missing must be one of 'error', 'drop', 'mean'"),
    ({"x.npy": DIGITS}, lambda tmp: load_dataset(tmp / "x.npy", image_shape=(8, 9)), ValueError,
     "does not fit samples of 64 values"),
    ({}, lambda tmp: load_dataset("mnist-test-10k", image_shape=(8, 8)), ValueError,
     "mnist-test-10k: image shape 8x8 = 64 pixels does not fit samples of 784 values"),
    ({"x.npy": TRUNCATED_NPY}, lambda tmp: load_dataset(tmp / "x.npy"), DamagedFileError, "truncated or corrupt"),
    ({"t.csv": NA_TABLE, "u.csv": NA_TABLE.replace("height,weight", "weight,height", 1)},
     lambda tmp: table_dataset(tmp / "u.csv", encoder=table_dataset(tmp / "t.csv", missing="drop").encoder),
     ValueError, "but the encoder was fitted on ['height', 'weight', 'colour']"),
    ({"t.csv": "a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(12))},
     lambda tmp: check_test_set(table_dataset(tmp / "t.csv")), ValueError,
     "has 1 test example, too few to train with"),
    ({}, lambda tmp: TabularEncoder().fit(["0", "1", "2"], [["1", "2", "a"], ["2", "3", "b"]]).header, None,
     "['0', '1', '2']"),  # pandas' column numbers are names
]


def write(path, contents):
    if callable(contents):
        contents(path)
    elif isinstance(contents, str):
        path.write_text(contents, encoding="utf-8")
    elif isinstance(contents, bytes):
        path.write_bytes(contents)
    elif isinstance(contents, dict):
        np.savez(path, **contents)
    else:
        np.save(path, contents)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A small run on flat 8 x 8 data (40 examples: 36 train / 4 test), as the figure commands' checkpoint."""
    folder = tmp_path_factory.mktemp("run")
    np.save(folder / "flat.npy", DIGITS)
    assert main(["train", "--data", str(folder / "flat.npy"), "--image-shape", "8,8", "--epochs", "1", "--hidden",
                 "4", "--out", str(folder), "--quiet", "--no-figures"]) is None
    return folder / "checkpoint.npz"


def _id(row):
    run = row[1]
    return " ".join(run)[:60] if isinstance(run, list) else "call"


@pytest.mark.parametrize("files, run, expect, says", ROWS, ids=[f"{i}:{_id(r)}" for i, r in enumerate(ROWS)])
def test_hostile_input(tmp_path, capsys, request, files, run, expect, says):
    for name, contents in files.items():
        write(tmp_path / name, contents)
    says = (says,) if isinstance(says, str) else says
    if callable(run):
        if expect is None:
            result = str(run(tmp_path))
            assert all(s in result for s in says), result
            return
        with pytest.raises(expect) as caught:
            run(tmp_path)
        assert all(s in str(caught.value) for s in says), str(caught.value)
        return
    places = {"{tmp}": str(tmp_path)}
    if any("{ckpt}" in a for a in run):
        places["{ckpt}"] = str(request.getfixturevalue("ckpt"))
    argv = [a.replace("{tmp}", places["{tmp}"]).replace("{ckpt}", places.get("{ckpt}", "")) for a in run]
    try:
        status = main(argv) or 0
    except SystemExit as exit_info:  # argparse refused a value when parsing
        status = exit_info.code
    out, err = capsys.readouterr()
    assert status == expect, (status, out, err)
    assert "Traceback" not in err
    if expect == 0:
        assert all(s in out for s in says), out
    else:
        last = err.strip().splitlines()[-1]
        assert "error: " in last and all(s in last for s in says), err


def test_flat_data_with_an_image_shape_gets_the_image_figures(tmp_path):
    np.save(tmp_path / "flat.npy", DIGITS)
    assert main(["train", "--data", str(tmp_path / "flat.npy"), "--image-shape", "8,8", "--epochs", "1", "--hidden",
                 "4", "--out", str(tmp_path / "run"), "--quiet"]) is None
    figures = sorted(p.name for p in (tmp_path / "run" / "figures").iterdir())
    assert {"manifold.png", "reconstructions.png", "samples.png", "interpolation.png", "traversal.png"} <= set(figures)
