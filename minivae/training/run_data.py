"""The data a run was trained on, recorded when it starts and rebuilt from its checkpoint the same way.

A checkpoint stores the model, not the data. What it stores instead is the whole pipeline that made them
(``Trainer.extra``, written by ``run_record`` when the run starts; the training config is added by ``Trainer.save``)::

    extra = {"dataset": "/home/ada/data/digits.npy",   # a dataset name, or the absolute path of a file
             "dataset_sha256": "9f86d08...",           # the SHA-256 of that file's bytes (None for a dataset name)
             "load_options": {"rescale": True},        # load_dataset's keyword arguments as the run passed them
             "split": {"test_fraction": 0.1, "seed": 0},   # how a file was split (None: the dataset's own split)
             "exclude_classes": [5],                   # labels left out of the training part (anomaly detection)
             "image_shape": [28, 28],                  # (H, W) of image data, None for other data
             "examples": [9000, 1000],                 # train and test sizes, to check the rebuilt data against
             "table_encoder": {...},                   # only for a table: the fitted TableEncoder, as a dict
             "table": {"schema": [...], "keys": [...], "rows": N},   # only for a table: its columns and key columns
             "text_options": {"level": "char", ...},   # only for text: text_dataset's options (minivae.datasets.corpus)
             "vocabulary": {"tokens": [...], ...},     # only for text: the Vocabulary built on the training part
             "train_config": {"binarize": "dynamic", "seed": 0, ...}}

``load_options`` holds every keyword the run gave ``load_dataset`` except ``cache_dir`` and ``download``, which say
where files come from, not what the data are; whatever options ``load_dataset`` grows, they are recorded and
replayed as they are. Paths are stored absolute, so the commands work from any folder. A table in a folder of Parquet files has the
SHA-256 of all its files; a Delta or Iceberg table is recorded pinned to the version it was at (``delta:PATH@3``),
which does not change, so it has none.

Three functions, in the order a run uses them:

* ``training_data``: the Dataset a run trains on, from a dataset name, a file or a table, without the excluded classes;
* ``run_record``: the dict above (without the training config) for a new run to store;
* ``recorded_data`` and ``data_of_checkpoint``: the data again, from a record. By default everything comes from the
  record. An option given explicitly (a value other than ``load_dataset``'s default) that contradicts the record is
  applied with a note, or, with ``strict=True`` (resuming a run), refused. A file whose bytes changed since the run
  (another SHA-256) is refused unless it is named explicitly, and then used with a warning. A checkpoint written
  before the record existed (minivae 0.1.0) gets its data as the options given say, with a note.

``data_of_checkpoint`` also binarizes the test set as the model was validated on it: a model trained with
``binarize="static"`` or ``"dynamic"`` saw 0/1 pixels, and scored on the grey images it would look several nats worse
than it is. So the test set is thresholded at 0.5 for "static", and for "dynamic" it is the single fixed draw
``binarize_dynamic(x_test, default_rng(seed))`` that ``Trainer.fit`` validates on.

Example
-------
>>> data = training_data("mnist-test-10k", exclude_classes=[5])       # train without the 5s
>>> trainer.extra = run_record(data, "mnist-test-10k", exclude_classes=[5])
>>> trainer.fit(data.x_train, data.x_test, checkpoint_path="run/checkpoint.npz")
>>> test = data_of_checkpoint(load_checkpoint("run/checkpoint.npz"))  # later: the same test set, as validated
"""
import dataclasses
import inspect
import sys
from pathlib import Path

import numpy as np

from minivae.datasets.binarize import binarize_dynamic, binarize_static
from minivae.datasets.catalog import KNOWN_DATASETS, load_dataset
from minivae.datasets.corpus import TEXT_CORPORA, text_dataset
from minivae.datasets.labels import without_classes
from minivae.datasets.tables import table_dataset as csv_table_dataset  # minivae 0.2's TabularEncoder runs
from minivae.tables.columns import FORMAT as TABLE_ENCODER_FORMAT
from minivae.tables.dataset import source_record, source_sha256, table_dataset
from minivae.datasets.text import Vocabulary
from minivae.training.checkpoint import CheckpointError

DEFAULT_DATASET = "mnist-test-10k"
WHERE_FROM = ("cache_dir", "download")  # load_dataset's options about where files come from: never recorded


def _note(message):
    print(message, file=sys.stderr)


def training_data(dataset=DEFAULT_DATASET, table=False, table_encoder=None, categorical=(), exclude_classes=(),
                  cache_dir=None, download=True, text_options=None, vocabulary=None, table_options=None,
                  **load_options):
    """The Dataset a run trains on.

    Parameters
    ----------
    dataset : a name ("mnist-test-10k", "mnist", "fashion-mnist") or the path of a .npy / .npz / .csv array file
        (read by ``load_dataset``), or with ``table`` a table: a CSV file, a Parquet file or folder, a Delta or
        Iceberg table (read by ``minivae.tables.dataset.table_dataset``)
    table : True if ``dataset`` is a table of numeric and categorical columns
    table_encoder : a table's recorded TableEncoder (as a dict); implies ``table``. Default: fit a new one. (The
        TabularEncoder of a minivae 0.2 run reads its CSV table as that version did)
    categorical : with a new table encoder, the columns to treat as categories even though they hold numbers
    table_options : more of ``table_dataset``'s options: keys, ranges, scratch, trained_schema
    exclude_classes : labels whose examples are removed from the training part (see ``without_classes``)
    cache_dir, download, **load_options : passed on to ``load_dataset`` (downloads; ``rescale`` and whatever else it
        takes); for a table, those of them that ``table_dataset`` takes
    text_options : for text (a corpus name such as "names", or a text file): the options of ``text_dataset``
        (level, max_length, max_vocab); ``vocabulary`` the recorded Vocabulary's dict, to encode with it

    Returns
    -------
    Dataset: x_train (N, D), x_test (M, D) float32; a table's Dataset also has ``encoder``; text gives (N, T) int64
    token ids and the Vocabulary as ``encoder``.
    """
    if text_options is not None or vocabulary is not None or dataset in TEXT_CORPORA:
        unused = [k for k, v in load_options.items() if not _at_default(k, v)] + ["exclude_classes"] * bool(
            exclude_classes)
        if unused:
            raise ValueError(f"{dataset} is text: {', '.join(unused)} (for arrays, images and labels) do not apply "
                             "to it")
        return text_dataset(dataset, vocabulary=vocabulary, **(text_options or {}))
    if isinstance(table_encoder, dict) and table_encoder.get("format") != TABLE_ENCODER_FORMAT:
        data = csv_table_dataset(dataset, encoder=table_encoder, **_taken_by(csv_table_dataset, load_options))
    elif table or table_encoder is not None:
        data = table_dataset(dataset, encoder=table_encoder, categorical=categorical, **(table_options or {}),
                             **_taken_by(table_dataset, load_options))
    else:
        data = load_dataset(dataset, cache_dir=cache_dir, download=download, **load_options)
    return without_classes(data, exclude_classes)


def run_record(data, dataset, exclude_classes=(), load_options=None, text_options=None):
    """What a new run records about its data (``Trainer.extra``), so that later commands can load them again.

    ``data`` is what ``training_data(dataset, exclude_classes=..., **load_options)`` returned; ``load_options`` the
    keyword arguments it was given (``cache_dir`` and ``download`` are left out), ``text_options`` those of a text
    dataset. Returns the dict of the module docstring, JSON-able.
    """
    options = {k: _jsonable(v) for k, v in (load_options or {}).items() if k not in WHERE_FROM}
    named = _is_name(dataset)
    split = None
    if isinstance(data.encoder, Vocabulary):
        options = {}  # the array options do not apply to text (training_data refused any that was set)
        split = {k: (text_options or {}).get(k, _defaults(text_dataset)[k]) for k in ("test_fraction", "seed")}
    elif data.encoder is not None:
        split = {"test_fraction": 0.1, "seed": 0}  # table_dataset's fixed 90/10 split
    elif not named:
        defaults = _defaults(load_dataset)
        split = {k: options.get(k, defaults[k]) for k in ("test_fraction", "seed")}
    if data.table is not None:
        source, digest = source_record(dataset)
    else:
        source, digest = (str(dataset), None) if named else (str(Path(dataset).resolve()), file_sha256(dataset))
    record = {"dataset": source, "dataset_sha256": digest,
              "load_options": options, "split": split,
              "exclude_classes": [int(c) for c in exclude_classes],
              "image_shape": list(data.image_shape) if data.image_shape else None,
              "examples": [len(data.x_train), len(data.x_test)]}
    if isinstance(data.encoder, Vocabulary):
        record["text_options"] = {k: _jsonable(v) for k, v in (text_options or {}).items()}
        record["vocabulary"] = data.encoder.config()
    elif data.encoder is not None:
        record["table_encoder"] = data.encoder.to_dict()
    if data.table is not None:
        record["table"] = data.table
    return record


def recorded_data(record, name=None, cache_dir=None, download=True, strict=False, say=_note, **load_options):
    """The data of a run again, from its record (a checkpoint's ``extra``): the training part without the excluded
    classes (if the data have labels), the test part as loaded.

    Parameters
    ----------
    record : the dict of the module docstring (``ckpt.extra``)
    name : another dataset to load instead of the recorded one (or the recorded file at a new place)
    cache_dir, download : where downloads come from (never recorded)
    strict : refuse (ValueError) any explicit option that contradicts the record, and data other than the run's:
        what resuming needs. Default: apply it, with a note
    say : how notes and warnings are told (default: printed to stderr)
    **load_options : options of ``load_dataset``; those at its defaults count as not given

    Raises CheckpointError when the recorded file has changed (another SHA-256) and it was not named explicitly, or
    the rebuilt data do not have the recorded sizes.
    """
    given = {k: v for k, v in load_options.items() if not _at_default(k, v)}
    recorded = record.get("dataset", DEFAULT_DATASET)
    if record.get("load_options") is None:  # written before minivae recorded the pipeline (0.1.0)
        say(f"note: this checkpoint does not record how its data were loaded (it predates minivae 0.2.0); loading "
            f"{name or recorded} with the options given now ({_listed(load_options) or 'the defaults'})")
        options = dict(load_options)
    else:
        options = dict(record["load_options"])
        for key, value in given.items():
            if options.get(key, _defaults(load_dataset).get(key)) != value:
                what = (f"the run was trained with {key}={options.get(key, _defaults(load_dataset).get(key))!r}, "
                        f"not {key}={value!r}")
                if strict:
                    raise ValueError(f"cannot resume with {key}={value!r}: {what}; resume without it, or start a "
                                     "new run")
                say(f"note: {what}; applying {key}={value!r} as asked, so the numbers are not those of the run's "
                    "own data pipeline")
                options[key] = value
    dataset = _which_dataset(record, recorded, name, strict, say)
    table = record.get("table") or {}
    table_options = dict(keys=table.get("keys", []), trained_schema=table.get("schema")) if table else None
    data = training_data(dataset, table_encoder=record.get("table_encoder"), cache_dir=cache_dir, download=download,
                         text_options=record.get("text_options"), vocabulary=record.get("vocabulary"),
                         table_options=table_options, **options)
    if data.y_train is not None:  # other data without labels keep their training part: only x_test is scored
        data = without_classes(data, record.get("exclude_classes", []))
    expected = record.get("examples")
    if expected and dataset == recorded and [len(data.x_train), len(data.x_test)] != list(expected):
        raise CheckpointError(
            f"{dataset} now gives {len(data.x_train)} training and {len(data.x_test)} test examples, but the run had "
            f"{expected[0]} and {expected[1]}: the data or the way minivae splits them changed since; the numbers "
            "would not be comparable")
    return data


def _which_dataset(record, recorded, name, strict, say):
    """The dataset to load: the recorded one (its file checked against its SHA-256), or ``name``."""
    digest = record.get("dataset_sha256")
    if name is not None and _same_source(name, recorded):
        name = None if digest is None or file_sha256(name) == digest else name
    if name is None:
        if digest is not None:
            if not Path(recorded).exists():
                raise FileNotFoundError(f"the data file of this run, {recorded}, is gone; if it moved, give its new "
                                        "place with --data")
            now = file_sha256(recorded)
            if now != digest:
                raise CheckpointError(
                    f"the data file of this run, {recorded}, has changed since the run was trained (SHA-256 "
                    f"{digest[:12]}... then, {now[:12]}... now), so its split would not be the run's; restore it, or "
                    + ("start a new run on it" if strict else "name it with --data to use it as it is now"))
        return recorded
    if record.get("load_options") is not None and digest is not None and not _is_name(name) \
            and Path(name).exists() and file_sha256(name) == digest:
        return str(Path(name).resolve())  # the recorded file at a new place
    if strict and _same_source(name, recorded):
        raise CheckpointError(f"cannot resume on {name}: it has changed since the run was trained on it (other "
                              "SHA-256); restore it, or start a new run")
    if strict:
        raise ValueError(f"cannot resume on {name}: the run was trained on {recorded}; resume without --data (or "
                         "--table), or start a new run")
    say(f"warning: {name} has changed since the run was trained on it (other SHA-256); using it as it is now"
        if _same_source(name, recorded) else f"note: using {name}, not the run's own data ({recorded})")
    return name


def data_of_checkpoint(ckpt, name=None, cache_dir=None, download=True, say=_note, **load_options):
    """The data of a checkpoint, with the test part binarized as its model was validated on it.

    Parameters
    ----------
    ckpt : a Checkpoint (``load_checkpoint``)
    name, cache_dir, download, say, **load_options : as for ``recorded_data`` (the recorded pipeline by default,
        an explicit option that contradicts it applied with a note). A run on a CSV table reads its table (or
        ``name``, another table with the same columns) with the recorded encoder

    Returns
    -------
    Dataset whose x_test (M, D) is, by the recorded ``train_config["binarize"]``:
        "none"     the test images as loaded (grey values in [0, 1])
        "static"   binarize_static(x_test): 1 where x > 0.5
        "dynamic"  binarize_dynamic(x_test, np.random.default_rng(train_config["seed"])), the one fixed draw of the
                   validation set in ``Trainer.fit``
    and whose x_train is the training part as loaded, without the recorded excluded classes.
    """
    data = recorded_data(ckpt.extra, name, cache_dir=cache_dir, download=download, say=say, **load_options)
    train_config = ckpt.extra.get("train_config", {})
    mode = train_config.get("binarize", "none")
    if mode == "none":
        return data
    if mode == "static":
        x_test = binarize_static(data.x_test)
    elif mode == "dynamic":
        x_test = binarize_dynamic(data.x_test, np.random.default_rng(train_config.get("seed", 0)))
    else:
        raise CheckpointError(f"the checkpoint records binarize={mode!r}; expected 'none', 'static' or 'dynamic'")
    return dataclasses.replace(data, x_test=x_test, description=data.description + f" (test set binarized: {mode})")


def file_sha256(path):
    """The SHA-256 of a file's bytes, as 64 hex digits (a folder of Parquet files: of its files, ``source_sha256``)."""
    return source_sha256(path)


def _is_name(dataset):
    return isinstance(dataset, str) and (dataset in KNOWN_DATASETS or dataset in TEXT_CORPORA)


def _same_source(a, b):
    if _is_name(a) or _is_name(b):
        return a == b
    return Path(a).resolve() == Path(b).resolve()


def _defaults(function):
    return {k: p.default for k, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _at_default(key, value):
    """True if ``key=value`` is what load_dataset does without it (an option not given)."""
    defaults = _defaults(load_dataset)
    return key in WHERE_FROM or (key in defaults and _jsonable(defaults[key]) == _jsonable(value))


def _taken_by(function, options):
    """The options that ``function`` has parameters for (a table reader takes fewer than load_dataset)."""
    names = inspect.signature(function).parameters
    return {k: v for k, v in options.items() if k in names}


def _jsonable(value):
    """Tuples as lists, as JSON gives them back, so that a recorded value compares equal to the one given."""
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def _listed(options):
    return ", ".join(f"{k}={v!r}" for k, v in options.items() if k not in WHERE_FROM)
