"""Synthetic data: draw new examples from a trained VAE and save them to a file.

A VAE is a generative model: z ~ N(0, I), x ~ p(x | z). ``generate`` runs that recipe n times. By default it
returns the decoder's mean E[x | z] (smooth, grey pixel probabilities for a Bernoulli decoder, what papers show);
``draw=True`` returns a real draw x ~ p(x | z) (binary pixels for a Bernoulli decoder, the mean plus noise for a
Gaussian one), which is what the model's probability distribution actually produces.

``save_synthetic`` writes the samples (and optional labels) to .npy, .npz or .csv in a form that
``minivae.datasets.load_dataset(path)`` reads back. The file is written to a temporary file in the same folder and
then renamed with ``os.replace`` (atomic), so a crash never leaves a half-written file under the final name.

Example
-------
>>> x_new = generate(vae, 1000, np.random.default_rng(0))          # (1000, 784), values in [0, 1]
>>> save_synthetic("synthetic_digits.npz", x_new)
"""
import pathlib

import numpy as np

from minivae.datasets.binarize import binarize_static
from minivae.fileio import atomic_write
from minivae.validation import check_positive_int

FORMATS = (".npy", ".npz", ".csv")


def generate(model, n, rng, binarize=False, draw=False, batch_size=1024):
    """n new examples from the model's generative process, shape (n, D), the model's dtype.

        z ~ N(0, I_L);   x = E[x | z] (the decoder mean),  or  x ~ p(x | z)  with draw=True

    Parameters
    ----------
    model : a trained VAE    n : number of examples    rng : np.random.Generator
    binarize : threshold the result at 0.5 (1 where x > 0.5, else 0), for binary data such as binarized MNIST
    draw : sample x from p(x | z) instead of returning its mean
    batch_size : examples decoded at a time (bounds the memory)
    """
    n = check_positive_int(n, "n")
    if not model.probabilistic:
        raise ValueError(f"an {type(model).__name__} has no prior to draw new examples from: train a VAE "
                         "(--model vae) to generate")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0), got {type(rng).__name__}")
    dtype = model.dtype
    parts = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = rng.standard_normal((m, model.latent_dim), dtype=dtype)  # (m, L), from the prior
        out = model.decoder.forward(z)  # the parameters of p(x | z)
        parts.append(model.likelihood.sample(out, rng) if draw else model.likelihood.mean(out))
    x = np.concatenate(parts)  # (n, D)
    return binarize_static(x) if binarize else x


def _check_labels(samples, labels):
    labels = np.asarray(labels)
    if labels.shape != (len(samples),):
        raise ValueError(f"labels must have shape (N,) = ({len(samples)},), one per sample, got {labels.shape}")
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"labels must be numbers, got dtype {labels.dtype}")
    return labels


def _write(path, samples, labels, file):
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(file, samples)
    elif suffix == ".npz":
        arrays = {"x": samples} if labels is None else {"x": samples, "y": labels}
        np.savez_compressed(file, **arrays)
    else:  # .csv: a header row, one sample per line, the label (if any) in a last column named "label"
        header = [f"x{j}" for j in range(samples.shape[1])] + (["label"] if labels is not None else [])
        table = samples if labels is None else np.column_stack([samples, labels])
        np.savetxt(file, table, delimiter=",", header=",".join(header), comments="", fmt="%.9g")


def save_synthetic(path, samples, labels=None):
    """Write samples (N, D) and optional labels (N,) to ``path``; the suffix chooses the format. Returns the path.

    .npy   the samples only (labels are refused: use .npz or .csv to keep them)
    .npz   arrays "x" (samples) and "y" (labels, if given), compressed
    .csv   a header row x0, ..., x{D-1} [, label], then one sample per line. ``load_dataset`` would read a label
           column as data: drop it (x[:, :-1]) before training on such a file.

    The data goes to a temporary file next to ``path`` first and is renamed into place with os.replace (atomic).
    """
    path = pathlib.Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot save to {path.name!r}: the file name must end in one of {', '.join(FORMATS)}")
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[0] == 0 or samples.dtype.kind not in "biuf":
        raise ValueError(f"samples must be a non-empty (N, D) array of numbers, got shape {samples.shape} and "
                         f"dtype {samples.dtype}")
    if labels is not None:
        labels = _check_labels(samples, labels)
        if path.suffix.lower() == ".npy":
            raise ValueError("a .npy file holds one array, so the labels would be lost; save to .npz or .csv")
    with atomic_write(path, "wb") as file:
        _write(path, samples, labels, file)
    return path
