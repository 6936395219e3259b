"""Training: shuffled minibatches, validation every epoch, checkpoints, resume, and a guard against divergence.

    trainer = Trainer(VAE(784, latent_dim=2), TrainConfig(epochs=10))
    history = trainer.fit(data.x_train, data.x_test, checkpoint_path="runs/mnist/checkpoint.npz")

One epoch, in order (the order is part of the contract, because resuming must repeat it exactly):

    perm = rng.permutation(N)                        # shuffle
    for each batch of indices in perm:
        xb = x[batch]                                # (B, D)
        xb = binarize_dynamic(xb, rng)               # only with binarize="dynamic": a fresh binarization per epoch
        xin = corrupt(xb, rng)                       # only with corruption > 0 (denoising: the target stays xb)
        beta_t = beta * min(1, step / warmup_steps)  # KL warm-up (beta_t = beta without warm-up)
        terms = model.loss_and_gradients(xin, rng=rng, beta=beta_t, free_bits=free_bits, target=xb,
                                         iw_samples=iw_samples, condition=labels[batch])
                                                     # the one call of every model (minivae.models.base)
        stop if terms.loss is not finite             # divergence guard
        clip_grad_norm(grads, clip_norm)             # only if clip_norm is set
        optimizer.step(params, grads)

The random generator, the optimizer state, the epoch and the step are saved in the checkpoint after every epoch, so
that 2 epochs straight equal 1 epoch, save, load, 1 more epoch, bit for bit.
"""
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from minivae.training.checkpoint import load_checkpoint, save_checkpoint
from minivae.datasets.binarize import binarize_dynamic, binarize_static
from minivae.nn.optim import clip_grad_norm, make_optimizer
from minivae.validation import as_float_array


@dataclass
class TrainConfig:
    """Every training setting in one place, with the defaults of the main job."""

    epochs: int = 10              # total number of epochs (a resumed run continues up to this number)
    batch_size: int = 128
    optimizer: str = "adam"       # sgd | adagrad | rmsprop | adam | adamw
    lr: float = 1e-3
    beta: float = 1.0             # weight of the KL term (beta-VAE when != 1)
    warmup_steps: int = 0         # KL warm-up: beta grows linearly from 0 to beta over this many steps
    free_bits: float = 0.0        # a floor, in nats, on the KL of each latent dimension (0: off)
    binarize: str = "none"        # none (grey values) | static (threshold 0.5) | dynamic (resampled every epoch)
    corruption: float = 0.0       # denoising: fraction of input entries set to 0 (the target stays clean)
    clip_norm: float = 0.0        # clip the global gradient norm to this value (0: off)
    iw_samples: int = 1           # > 1: train on the importance-weighted bound with this many samples (IWAE)
    seed: int = 0                 # shuffling, noise and binarization all come from this seed
    quiet: bool = False           # no progress bar, no per-epoch line

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if self.binarize not in ("none", "static", "dynamic"):
            raise ValueError(f"binarize must be 'none', 'static' or 'dynamic', got {self.binarize!r}")
        if not 0 <= self.corruption < 1:
            raise ValueError(f"corruption must be a fraction in [0, 1), got {self.corruption}")
        if self.beta < 0 or self.warmup_steps < 0 or self.free_bits < 0 or self.clip_norm < 0:
            raise ValueError("beta, warmup_steps, free_bits and clip_norm must not be negative")
        if self.iw_samples < 1:
            raise ValueError(f"iw_samples must be at least 1, got {self.iw_samples}")
        if self.iw_samples > 1 and (self.beta != 1 or self.warmup_steps or self.free_bits):
            raise ValueError("iw_samples > 1 trains on the importance-weighted bound of log p(x), which has no KL "
                             "weight: use it with beta = 1, no warm-up and no free bits")

    def model_options(self, labelled=False):
        """The training options this config asks of a model, as ``Model.check_options`` takes them.

        With KL warm-up the first steps use beta = 0 (the value checked); ``labelled``: labels will be passed.
        """
        return {"beta": 0.0 if self.warmup_steps else self.beta, "free_bits": self.free_bits,
                "iw_samples": self.iw_samples, "condition": np.zeros(1, int) if labelled else None}

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names likely causes and remedies."""


HISTORY_KEYS = ("epoch", "train_loss", "train_reconstruction", "train_kl", "val_loss", "val_reconstruction",
                "val_kl", "active_units", "beta", "seconds")


class Trainer:
    """Trains a VAE or Autoencoder (or a subclass) with one optimizer; see the module docstring for the loop.

    Parameters
    ----------
    model : any minivae model (minivae.models.base.Model): VAE, Autoencoder, ConvVAE, ConditionalVAE
    config : TrainConfig; an option the model cannot honour is refused here, before anything runs
    optimizer : an optimizer from minivae.nn.optim; default make_optimizer(config.optimizer, lr=config.lr)
    rng : the Generator for shuffling and noise; default np.random.default_rng(config.seed)
    """

    def __init__(self, model, config=None, optimizer=None, rng=None):
        self.model = model
        self.config = config or TrainConfig()
        if self.config.warmup_steps and "beta" not in model.options:
            raise ValueError(f"{type(model).__name__} cannot honour warmup_steps={self.config.warmup_steps}: it has "
                             "no KL term to warm up")
        model.check_options(**self.config.model_options(labelled=model.conditional))
        self.optimizer = optimizer or make_optimizer(self.config.optimizer, lr=self.config.lr)
        self.rng = rng or np.random.default_rng(self.config.seed)
        self.epoch = 0  # completed epochs
        self.step = 0  # completed optimizer steps
        self.history = {k: [] for k in HISTORY_KEYS}
        self.extra = {}  # JSON-able data saved with the checkpoint (a tabular encoder, the dataset name, ...)

    @classmethod
    def from_checkpoint(cls, path, config=None):
        """Continue a run: the model, optimizer, generator, epoch, step and history come from the checkpoint.

        ``config`` overrides the saved training config (typically to raise ``epochs``).
        """
        ckpt = load_checkpoint(path)
        saved = TrainConfig.from_dict(ckpt.extra.get("train_config", {}))
        trainer = cls(ckpt.model, config or saved, ckpt.optimizer, ckpt.rng)
        trainer.epoch, trainer.step = ckpt.epoch, int(ckpt.extra.get("step", 0))
        trainer.history = {k: list(ckpt.history.get(k, [])) for k in HISTORY_KEYS}
        trainer.extra = {k: v for k, v in ckpt.extra.items() if k not in ("train_config", "step")}
        return trainer

    def save(self, path):
        """Write a checkpoint of the current state (atomic)."""
        extra = {**self.extra, "train_config": asdict(self.config), "step": self.step}
        return save_checkpoint(path, self.model, self.optimizer, self.rng, self.epoch, self.history, extra)

    # -- data ----------------------------------------------------------------------------------------------------------

    def _prepare(self, x, y, name):
        x = as_float_array(x, name, self.model.dtype, width=self.model.input_dim)
        if self.config.binarize == "static":
            x = binarize_static(x)
        if not self.model.conditional:
            return x, None  # labels, if any, are not the model's business
        if y is None:
            raise ValueError(f"{type(self.model).__name__} is conditional: pass the labels of {name}")
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"{name} has {len(x)} examples but its labels have {len(y)}")
        return x, y

    def _corrupt(self, x):
        """Masking noise: each entry is set to 0 with probability config.corruption."""
        keep = self.rng.random(x.shape) >= self.config.corruption
        return x * keep

    # -- one epoch --------------------------------------------------------------------------------------------------

    def current_beta(self):
        """beta * min(1, step / warmup_steps): the KL weight of the next step."""
        c = self.config
        return c.beta if c.warmup_steps == 0 else c.beta * min(1.0, self.step / c.warmup_steps)

    def train_epoch(self, x, y=None):
        """One pass over x in shuffled minibatches; returns mean (loss, reconstruction, kl) over the examples."""
        c, n = self.config, len(x)
        perm = self.rng.permutation(n)
        sums = np.zeros(3)
        bar = tqdm(range(0, n, c.batch_size), desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False,
                   disable=c.quiet, unit="batch")
        for start in bar:
            idx = perm[start:start + c.batch_size]
            xb = x[idx]
            if c.binarize == "dynamic":
                xb = binarize_dynamic(xb, self.rng)
            xin = self._corrupt(xb) if c.corruption > 0 else xb
            terms = self.model.loss_and_gradients(xin, rng=self.rng, beta=self.current_beta(),
                                                  free_bits=c.free_bits, target=xb, iw_samples=c.iw_samples,
                                                  condition=None if y is None else y[idx])
            if not math.isfinite(terms.loss):
                raise TrainingDiverged(self._divergence_message(terms))
            if c.clip_norm > 0:
                clip_grad_norm(self.model.grads, c.clip_norm)
            self.optimizer.step(self.model.params, self.model.grads)
            self.step += 1
            sums += len(idx) * np.array([terms.loss, terms.reconstruction, terms.kl])
            if not c.quiet:
                bar.set_postfix(loss=f"{sums[0] / min(start + c.batch_size, n):.2f}", refresh=False)
        return sums / n

    def _divergence_message(self, terms):
        last = self.history["train_loss"][-1] if self.history["train_loss"] else None
        return (
            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: the loss is {terms.loss} "
            f"(reconstruction {terms.reconstruction}, KL {terms.kl}; last epoch's mean loss {last}). "
            f"Likely causes: a learning rate too high for {type(self.optimizer).__name__} (now {self.optimizer.lr:g}; "
            "try 10x smaller), exploding gradients (set clip_norm, e.g. 10), or a Gaussian likelihood with a learned "
            "variance collapsing onto constant pixels (use the Bernoulli or fixed-variance likelihood). "
            "The last good checkpoint, if one was written, is unchanged.")

    # -- evaluation -------------------------------------------------------------------------------------------------

    def evaluate(self, x, y=None, batch_size=1000):
        """Mean (loss, reconstruction, kl) on x with fixed noise (np.random.default_rng([seed, epoch]))."""
        rng = np.random.default_rng([self.config.seed, self.epoch])
        sums = np.zeros(3)
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            if self.model.probabilistic:
                t = self.model.elbo(xb, rng=rng, condition=None if y is None else y[start:start + len(xb)])
                rec, kl = t.reconstruction, t.kl
            else:
                rec = self.model.reconstruction_error(xb)
                kl = np.zeros_like(rec)
            sums += [float((rec + self.config.beta * kl).sum()), float(rec.sum()), float(kl.sum())]
        return sums / len(x)

    def _active_units(self, x, y):
        if not self.model.probabilistic or self.model.conditional:
            return None
        from minivae.apps.latent import active_units

        return int(active_units(self.model, x[:2000])[0])

    # -- the loop ------------------------------------------------------------------------------------------------------

    def fit(self, x_train, x_val=None, y_train=None, y_val=None, checkpoint_path=None):
        """Train until ``config.epochs`` epochs are done; return the history (a dict of lists, see HISTORY_KEYS).

        After each epoch the checkpoint (if a path is given) is rewritten atomically. On Ctrl-C the current state is
        saved next to it as "<name>-interrupted.npz" and KeyboardInterrupt is raised again. On divergence,
        TrainingDiverged is raised and the checkpoint of the last good epoch is left as it was.
        """
        c = self.config
        x_train, y_train = self._prepare(x_train, y_train, "x_train")
        if x_val is not None:
            x_val, y_val = self._prepare(x_val, y_val, "x_val")
            if c.binarize == "dynamic":  # evaluate on one fixed binarization of the validation set
                x_val = binarize_dynamic(x_val, np.random.default_rng(c.seed))
        try:
            while self.epoch < c.epochs:
                t0 = time.perf_counter()
                train = self.train_epoch(x_train, y_train)
                self.epoch += 1
                val = self.evaluate(x_val, y_val) if x_val is not None else [None] * 3
                active = self._active_units(x_val if x_val is not None else x_train, y_val)
                self._record(train, val, active, time.perf_counter() - t0)
                if checkpoint_path is not None:
                    self.save(checkpoint_path)
        except KeyboardInterrupt:
            if checkpoint_path is not None:
                path = Path(checkpoint_path)
                saved = self.save(path.with_name(path.stem + "-interrupted.npz"))
                print(f"\ninterrupted: the current state is saved in {saved}")
            raise
        return self.history

    def _record(self, train, val, active, seconds):
        row = {"epoch": self.epoch, "train_loss": train[0], "train_reconstruction": train[1], "train_kl": train[2],
               "val_loss": val[0], "val_reconstruction": val[1], "val_kl": val[2], "active_units": active,
               "beta": self.current_beta(), "seconds": seconds}
        for k in HISTORY_KEYS:
            v = row[k]
            self.history[k].append(None if v is None else (int(v) if k in ("epoch", "active_units") else float(v)))
        if not self.config.quiet:
            val_text = f"  val {val[0]:.2f}" if val[0] is not None else ""
            active_text = f"  active units {active}/{self.model.latent_dim}" if active is not None else ""
            tqdm.write(f"epoch {self.epoch}/{self.config.epochs}  train {train[0]:.2f} (reconstruction "
                       f"{train[1]:.2f}, KL {train[2]:.2f}){val_text}{active_text}  {seconds:.1f}s")
