"""The data a run was trained on, rebuilt from what its checkpoint records.

A checkpoint stores the model, not the data. What it stores instead is enough to load them again (``Trainer.extra``,
written by ``run_record`` when the run starts, and the training config, added by ``Trainer.save``)::

    extra = {"dataset": "mnist-test-10k",        # a dataset name, or the path of an array file or a CSV table
             "exclude_classes": [5],             # labels left out of the training part (anomaly detection)
             "image_shape": [28, 28],            # (H, W) of image data, None for other data
             "table_encoder": {...},             # only for a CSV table: the fitted TabularEncoder, as a dict
             "train_config": {"binarize": "dynamic", "seed": 0, ...}}

Three functions, in the order a run uses them:

* ``training_data``: the Dataset a run trains on, from a dataset name or a table, without the excluded classes;
* ``run_record``: the dict above (without the training config) for a new run to store;
* ``data_of_checkpoint``: the test data of a saved run as its model was validated on them. A model trained with
  ``binarize="static"`` or ``"dynamic"`` saw 0/1 pixels, and its validation loss was computed on binarized test
  images; scored on the grey images it would look several nats worse than it is. So the test set is binarized the
  same way: thresholded at 0.5 for "static", and for "dynamic" the single fixed draw ``binarize_dynamic(x_test,
  default_rng(seed))`` that ``Trainer.fit`` validates on.

Example
-------
>>> data = training_data("mnist-test-10k", exclude_classes=[5])       # train without the 5s
>>> trainer.extra = run_record(data, "mnist-test-10k", exclude_classes=[5])
>>> trainer.fit(data.x_train, data.x_test, checkpoint_path="run/checkpoint.npz")
>>> test = data_of_checkpoint(load_checkpoint("run/checkpoint.npz"))  # later: the same test set, as validated
"""
import numpy as np

from minivae.datasets.labels import without_classes
from minivae.datasets.binarize import binarize_dynamic, binarize_static
from minivae.datasets.catalog import load_dataset
from minivae.datasets.dataset import Dataset
from minivae.datasets.tables import table_dataset

DEFAULT_DATASET = "mnist-test-10k"


def training_data(dataset=DEFAULT_DATASET, table=False, table_encoder=None, categorical=(), exclude_classes=(),
                  cache_dir=None, download=True, rescale=False, missing="error", image_shape=None):
    """The Dataset a run trains on.

    Parameters
    ----------
    dataset : a name ("mnist-test-10k", "mnist", "fashion-mnist") or the path of a .npy / .npz / .csv array file
        (read by ``load_dataset``), or with ``table`` the path of a CSV table (read by ``table_dataset``)
    table : True if ``dataset`` is a CSV table of numeric and categorical columns with a header row
    table_encoder : a table's recorded TabularEncoder (or its dict); implies ``table``. Default: fit a new one
    categorical : with a new table encoder, the columns to treat as categories even though they hold numbers
    exclude_classes : labels whose examples are removed from the training part (see ``without_classes``)
    cache_dir, download, rescale : passed on to ``load_dataset`` (downloads; min-max rescaling of array files)
    missing, image_shape : passed on to ``load_dataset`` or ``table_dataset`` (missing values; flat rows as images)

    Returns
    -------
    Dataset: x_train (N, D), x_test (M, D) float32; a table's Dataset also has ``encoder``.
    """
    if table or table_encoder is not None:
        data = table_dataset(dataset, encoder=table_encoder, categorical=categorical, missing=missing,
                             image_shape=image_shape)
    else:
        data = load_dataset(dataset, cache_dir=cache_dir, download=download, rescale=rescale, missing=missing,
                            image_shape=image_shape)
    return without_classes(data, exclude_classes)


def run_record(data, dataset, exclude_classes=()):
    """What a new run records about its data (``Trainer.extra``), so that later commands can load them again.

    Returns {"dataset": dataset, "exclude_classes": [...], "image_shape": [H, W] or None} and, for a table (a
    Dataset with an ``encoder``), "table_encoder": the encoder as a JSON-able dict.
    """
    record = {"dataset": str(dataset), "exclude_classes": [int(c) for c in exclude_classes],
              "image_shape": list(data.image_shape) if data.image_shape else None}
    if data.encoder is not None:
        record["table_encoder"] = data.encoder.to_dict()
    return record


def data_of_checkpoint(ckpt, name=None, cache_dir=None, download=True, rescale=False, missing="error",
                       image_shape=None):
    """The test data of a checkpoint, binarized as its model was validated on them.

    Parameters
    ----------
    ckpt : a Checkpoint (``load_checkpoint``)
    name : the dataset to load instead of the recorded one (default: ``ckpt.extra["dataset"]``, or mnist-test-10k
        for a checkpoint that records none). A run on a CSV table reads its table (or ``name``, another table
        with the same columns) with the recorded encoder: ``table_dataset(path, encoder=extra["table_encoder"])``
    cache_dir, download, rescale, missing, image_shape : passed on to ``load_dataset`` (a table: missing and
        image_shape to ``table_dataset``)

    Returns
    -------
    Dataset whose x_test (M, D) is, by the recorded ``train_config["binarize"]``:
        "none"     the test images as loaded (grey values in [0, 1])
        "static"   binarize_static(x_test): 1 where x > 0.5
        "dynamic"  binarize_dynamic(x_test, np.random.default_rng(train_config["seed"])), the one fixed draw of the
                   validation set in ``Trainer.fit``
    The training part is returned as loaded.
    """
    dataset = name or ckpt.extra.get("dataset", DEFAULT_DATASET)
    if ckpt.extra.get("table_encoder"):  # a table: its rows encoded as in training, the same 90/10 split
        data = table_dataset(dataset, encoder=ckpt.extra["table_encoder"], missing=missing, image_shape=image_shape)
    else:
        data = load_dataset(dataset, cache_dir=cache_dir, download=download, rescale=rescale, missing=missing,
                            image_shape=image_shape)
    train_config = ckpt.extra.get("train_config", {})
    mode = train_config.get("binarize", "none")
    if mode == "none":
        return data
    if mode == "static":
        x_test = binarize_static(data.x_test)
    elif mode == "dynamic":
        x_test = binarize_dynamic(data.x_test, np.random.default_rng(train_config.get("seed", 0)))
    else:
        raise ValueError(f"the checkpoint records binarize={mode!r}; expected 'none', 'static' or 'dynamic'")
    return Dataset(data.name, data.x_train, data.y_train, x_test, data.y_test, data.image_shape,
                   data.description + f" (test set binarized: {mode})", data.encoder)
