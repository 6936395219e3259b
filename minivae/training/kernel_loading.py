"""Load the kernels of an epoch before its clock starts: one throwaway pass of the step on two examples.

Numba loads a jitted kernel from its cache (or compiles it, in the first run after an install) at the kernel's first
call in a process: about 0.4 s for the MLP VAE, seconds when it compiles. Inside the first epoch that time would make
the epoch's figure, and its progress bar's estimate of the time left, say little about the epochs to come.
``Trainer.fit`` calls ``load_kernels`` once, times it apart (``trainer.kernel_seconds``) and says so when it is long.

Nothing of the run changes: the noise comes from a throwaway generator, the update is a fresh optimizer of the same
kind stepping copies of the parameters and gradients, the gradients the pass leaves are overwritten by the first step,
and the evaluation draws its own noise (``Trainer.evaluate``). So a run with it is bit for bit the run without it
(tests/test_training.py).
"""
import time

import numpy as np

from tqdm.auto import tqdm

from minivae.apps.evaluation import latent_use
from minivae.datasets.binarize import binarize_dynamic
from minivae.datasets.text import trim_padding
from minivae.privacy.per_example import clipped_gradient_sum


def load_kernels(trainer, x, y=None):
    """Run ``trainer``'s step, update, evaluation and latent report once on x[:2] (labels y[:2]); return the seconds
    it took (0.0 for fewer than 2 examples: nothing to load them with)."""
    if len(x) < 2:
        return 0.0
    t0, c, model, rng = time.perf_counter(), trainer.config, trainer.model, np.random.default_rng(0)
    xb, yb = x[:2], None if y is None else y[:2]
    if model.input_kind == "tokens":
        xb = trim_padding(xb)
    if c.binarize == "dynamic":
        xb = binarize_dynamic(xb, rng)
    options = dict(beta=trainer.current_beta(), free_bits=c.free_bits, iw_samples=c.iw_samples, condition=yb,
                   target=None if model.input_kind == "tokens" else xb)
    if trainer.privacy is None:
        model.loss_and_gradients(xb, rng=rng, **options)
    else:
        clipped_gradient_sum(model, xb, c.dp_clip_norm, rng, with_losses=False, **options)
    fresh = type(trainer.optimizer)(**trainer.optimizer.hyperparameters())  # the same kind and settings, no state
    fresh.step({k: p.copy() for k, p in model.params.items()}, {k: g.copy() for k, g in model.grads.items()})
    trainer.evaluate(xb, yb)
    latent_use(model, xb)
    seconds = time.perf_counter() - t0
    if seconds > 2 and not trainer._quiet:
        tqdm.write(f"kernels ready in {seconds:.1f} s (Numba compiled them: once after an install, later runs load "
                   "them from its cache)")
    return seconds
