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
"""
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minivae.version import __version__
from minivae.fileio import atomic_write_bytes, remove_stale_temporaries
from minivae.nn.optim import make_optimizer

FORMAT_VERSION = 1
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, from another format version, or of another architecture."""


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
    from minivae.nn.optim import OPTIMIZERS

    for name, cls in OPTIMIZERS.items():
        if type(optimizer) is cls:
            return name
    raise ValueError(f"cannot checkpoint an optimizer of type {type(optimizer).__name__}")


def read_checkpoint_file(path):
    """Open a checkpoint and return (meta dict, arrays dict), with clear errors for missing/corrupt/foreign files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable minivae checkpoint (corrupt or truncated?): {err}") from err
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not a minivae checkpoint (it has no 'meta' entry)")
    meta = json.loads(str(arrays.pop("meta")))
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version}, but this minivae (version {__version__}) reads "
            f"version {FORMAT_VERSION}; retrain, or load it with the minivae version that wrote it "
            f"({meta.get('minivae_version', 'unknown')})")
    return meta, arrays


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
        p[...] = saved[k]


def load_checkpoint(path):
    """Rebuild the model, optimizer and random generator saved by ``save_checkpoint``; return a Checkpoint."""
    from minivae.models import build_model

    meta, arrays = read_checkpoint_file(path)
    model = build_model(meta["model"])
    copy_params_into(model, arrays, f"checkpoint {path}")
    optimizer = None
    if meta["optimizer"] is not None:
        settings = dict(meta["optimizer"])
        optimizer = make_optimizer(settings.pop("name"), **settings)
        optimizer.load_state_dict({k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")})
    rng = None
    if meta["rng_state"] is not None:
        name = meta["rng_state"].get("bit_generator")
        if name not in BIT_GENERATORS:
            raise CheckpointError(f"{path} stores a random generator of unknown kind {name!r}")
        bit_generator = getattr(np.random, name)()  # e.g. np.random.PCG64()
        bit_generator.state = meta["rng_state"]
        rng = np.random.Generator(bit_generator)
    return Checkpoint(model=model, optimizer=optimizer, rng=rng, epoch=meta["epoch"], history=meta["history"],
                      extra=meta["extra"])
