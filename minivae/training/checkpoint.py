"""Checkpoints: one ``.npz`` file with everything needed to continue training exactly.

Layout of the file (plain arrays only, read with ``allow_pickle=False``, so loading never runs code from the file):

    "param/<name>"    every model parameter, e.g. "param/encoder.0.W"
    "optim/<name>"    the optimizer state, e.g. "optim/t", "optim/encoder.0.W/m"
    "meta"            a JSON string: format version, minivae version, the model config, the optimizer's name and
                      settings, the random generator's state, the epoch, the training history and any extra
                      settings (the training config, a data encoder, ...)

Files are written atomically: to a temporary file in the same folder, then renamed over the target, so a crash or a
Ctrl-C while saving never leaves a half-written checkpoint behind (and the temporary files of saves killed outright,
by kill -9 or a power cut, are removed at the next save into the folder: ``minivae.fileio``).

Loading checks every field before it is used: a file that was edited, truncated or written by another program gets
one CheckpointError that says which field is wrong, never a KeyError from deep inside. What each field must be:

    "model"       a dict that ``build_model`` accepts, whose parameters match the "param/" arrays in name and shape
    "optimizer"   None, or {"name": one of minivae.nn.optim.OPTIMIZERS, its settings}; the "optim/" arrays hold "t"
                  (an integer >= 0) and, once t > 0, every slot of every parameter ("<param>/m", "<param>/v" for
                  Adam), each shaped like its parameter
    "rng_state"   None, or the state of one of numpy's bit generators (BIT_GENERATORS)
    "epoch"       an integer >= 0;  "history" a dict of lists;  "extra" a dict
"""
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minivae.version import __version__
from minivae.fileio import atomic_write_bytes, remove_stale_temporaries
from minivae.nn.optim import OPTIMIZERS, make_optimizer

FORMAT_VERSION = 1
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, from another format version, or of another architecture."""


NOT_AS_WRITTEN = ("it was not written by minivae as it is (edited, or damaged); use a checkpoint minivae wrote, or "
                  "train again")


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns."""

    model: object
    optimizer: object = None
    rng: np.random.Generator = None
    epoch: int = 0
    history: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def save_checkpoint(path, model, optimizer=None, rng=None, epoch=0, history=None, extra=None):
    """Save model parameters, optimizer state, generator state, epoch and history to ``path`` (.npz), atomically.

    Returns the path written.
    """
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
    meta = {
        "format_version": FORMAT_VERSION,
        "minivae_version": __version__,
        "model": model.config(),
        "optimizer": None if optimizer is None else {"name": _optimizer_name(optimizer),
                                                     **optimizer.hyperparameters()},
        "rng_state": None if rng is None else rng.bit_generator.state,
        "epoch": int(epoch),
        "history": history or {},
        "extra": extra or {},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = atomic_write_bytes(path, buffer.getvalue())
    remove_stale_temporaries(path.parent)  # of earlier saves here that were killed before they could clean up
    return path


def _optimizer_name(optimizer):
    for name, cls in OPTIMIZERS.items():
        if type(optimizer) is cls:
            return name
    raise ValueError(f"cannot checkpoint an optimizer of type {type(optimizer).__name__}")


def read_checkpoint_file(path):
    """Open a checkpoint and return (meta dict, arrays dict), with clear errors for missing/corrupt/foreign files."""
    path = Path(path)
    if path.is_dir():
        hint = f" ({path / 'checkpoint.npz'})" if (path / "checkpoint.npz").is_file() else ""
        raise CheckpointError(f"{path} is a folder, not a checkpoint file; give the path of the run's checkpoint.npz"
                              + hint)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable minivae checkpoint (corrupt or truncated?): {err}") from err
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not a minivae checkpoint (it has no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except ValueError as err:
        raise CheckpointError(f"{path}: its 'meta' entry is not valid JSON ({err}); {NOT_AS_WRITTEN}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its 'meta' entry is a JSON {type(meta).__name__}, not an object; "
                              f"{NOT_AS_WRITTEN}")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version}, but this minivae (version {__version__}) reads "
            f"version {FORMAT_VERSION}; retrain, or load it with the minivae version that wrote it "
            f"({meta.get('minivae_version', 'unknown')})")
    _check_fields(meta, path)
    return meta, arrays


def _check_fields(meta, path):
    """Every entry of meta is there and of the right kind (their contents are checked where they are used)."""
    kinds = {"model": (dict,), "optimizer": (dict, type(None)), "rng_state": (dict, type(None)), "epoch": (int,),
             "history": (dict,), "extra": (dict,)}
    for key, types in kinds.items():
        if key not in meta:
            raise CheckpointError(f"{path}: its metadata has no {key!r} entry; {NOT_AS_WRITTEN}")
        value = meta[key]
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " or ".join("null" if t is type(None) else {"dict": "an object", "int": "an integer"}[t.__name__]
                                   for t in types)
            raise CheckpointError(f"{path}: its {key!r} entry is {value!r:.60}, not {expected}; {NOT_AS_WRITTEN}")
    if meta["epoch"] < 0:
        raise CheckpointError(f"{path}: its epoch is {meta['epoch']}, not a count >= 0; {NOT_AS_WRITTEN}")
    for key, values in meta["history"].items():
        if not isinstance(values, list) or not all(v is None or isinstance(v, (int, float)) for v in values):
            raise CheckpointError(f"{path}: its history entry {key!r} is not a list of numbers; {NOT_AS_WRITTEN}")


def copy_params_into(model, arrays, source="checkpoint"):
    """Copy "param/<name>" arrays into the model's parameters, in place, checking names and shapes."""
    saved = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    missing, unexpected = model.params.keys() - saved.keys(), saved.keys() - model.params.keys()
    if missing or unexpected:
        raise CheckpointError(
            f"the {source} was saved from a different architecture: parameters missing from it {sorted(missing)}, "
            f"unexpected in it {sorted(unexpected)}")
    for k, p in model.params.items():
        if saved[k].shape != p.shape:
            raise CheckpointError(
                f"the {source} was saved from a different architecture: parameter {k!r} has shape "
                f"{saved[k].shape} there, but the model expects {p.shape}")
        if not (np.issubdtype(saved[k].dtype, np.floating) or np.issubdtype(saved[k].dtype, np.integer)):
            raise CheckpointError(f"the {source} stores parameter {k!r} as {saved[k].dtype}, not as numbers")
        p[...] = saved[k]


def generator_from_state(state, source="checkpoint"):
    """A numpy Generator continuing from a saved ``rng.bit_generator.state`` dict (a clear error for a bad one)."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if not isinstance(name, str) or name not in BIT_GENERATORS:
        raise CheckpointError(f"{source} stores a random generator of unknown kind {name!r} (expected one of "
                              f"{', '.join(BIT_GENERATORS)}); {NOT_AS_WRITTEN}")
    bit_generator = getattr(np.random, name)()  # e.g. np.random.PCG64()
    try:
        bit_generator.state = state
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{source} stores a {name} generator state that numpy refuses ({err!r}); "
                              f"{NOT_AS_WRITTEN}") from None
    return np.random.Generator(bit_generator)


def _build_model(config, path):
    from minivae.models import build_model

    try:
        return build_model(config)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as err:
        raise CheckpointError(f"{path}: its model config cannot be built ({err}); {NOT_AS_WRITTEN}") from None


def _build_optimizer(settings, arrays, model, path):
    """The optimizer of meta["optimizer"] with its state from the "optim/" arrays, every slot checked."""
    settings = dict(settings)
    name = settings.pop("name", None)
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise CheckpointError(f"{path} stores an optimizer named {name!r}; expected one of {sorted(OPTIMIZERS)}; "
                              f"{NOT_AS_WRITTEN}")
    try:
        optimizer = make_optimizer(name, **settings)
    except (ValueError, TypeError, OverflowError) as err:
        raise CheckpointError(f"{path}: its {name} settings {settings} are refused ({err}); {NOT_AS_WRITTEN}") from None
    state = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
    t = state.get("t")
    if t is None or t.shape != () or not np.issubdtype(t.dtype, np.integer) or int(t) < 0:
        raise CheckpointError(f"{path}: its optimizer state has no step count 'optim/t' (an integer >= 0)"
                              f"{'' if t is None else f', it has {t!r}'}; {NOT_AS_WRITTEN}")
    for entry, arr in state.items():
        if entry == "t":
            continue
        key, _, slot = entry.rpartition("/")
        if key not in model.params or slot not in optimizer.slots:
            raise CheckpointError(
                f"{path}: its optimizer state has an entry 'optim/{entry}', but {type(optimizer).__name__} keeps "
                f"{' and '.join(optimizer.slots) or 'no state'} per parameter of the model; {NOT_AS_WRITTEN}")
        p = model.params[key]
        if arr.shape != p.shape or arr.dtype != p.dtype:
            raise CheckpointError(f"{path}: optimizer state 'optim/{entry}' has shape {arr.shape} and dtype "
                                  f"{arr.dtype}, but its parameter has {p.shape} and {p.dtype}; {NOT_AS_WRITTEN}")
    if int(t) > 0:  # after the first step every parameter has every slot
        missing = [f"optim/{key}/{slot}" for key in model.params for slot in optimizer.slots
                   if f"{key}/{slot}" not in state]
        if missing:
            raise CheckpointError(f"{path}: its optimizer state lacks {', '.join(missing[:3])}"
                                  f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''} (step {int(t)} "
                                  f"should have them); {NOT_AS_WRITTEN}")
    optimizer.load_state_dict(state)
    return optimizer


def load_checkpoint(path):
    """Rebuild the model, optimizer and random generator saved by ``save_checkpoint``; return a Checkpoint."""
    meta, arrays = read_checkpoint_file(path)
    model = _build_model(meta["model"], path)
    copy_params_into(model, arrays, f"checkpoint {path}")
    optimizer = None if meta["optimizer"] is None else _build_optimizer(meta["optimizer"], arrays, model, path)
    rng = None if meta["rng_state"] is None else generator_from_state(meta["rng_state"], f"checkpoint {path}")
    return Checkpoint(model=model, optimizer=optimizer, rng=rng, epoch=meta["epoch"], history=meta["history"],
                      extra=meta["extra"])
