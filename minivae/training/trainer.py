"""Training: shuffled minibatches, validation every epoch, checkpoints, exact resume, and a guard against divergence.

    trainer = Trainer(VAE(784, latent_dim=2), TrainConfig(epochs=10))
    history = trainer.fit(data.x_train, data.x_test, checkpoint_path="runs/mnist/checkpoint.npz")

One epoch, in order (the order is part of the contract, because resuming must repeat it exactly):

    perm = rng.permutation(N)                        # shuffle
    for each batch of indices in perm:
        xb = x[batch]                                # (B, D); token ids (B, T) trimmed to the batch's longest
        xb = binarize_dynamic(xb, rng)               # only with binarize="dynamic": a fresh binarization per epoch
        xin = corrupt(xb, rng)                       # only with corruption > 0 (denoising: the target stays xb)
        beta_t = kl_weight(step, beta, warmup_steps, kl_schedule)  # KL annealing (beta without warm-up)
        terms = model.loss_and_gradients(xin, rng=rng, beta=beta_t, free_bits=free_bits, target=xb,
                                         iw_samples=iw_samples, condition=labels[batch])
                                                     # the one call of every model (minivae.models.base)
        stop if the loss diverged                    # NaN, infinite, or far above the start (training/guard.py)
        clip_grad_norm(grads, clip_norm)             # only if clip_norm is set
        optimizer.step(params, grads)

What a checkpoint holds to continue exactly: the model, the optimizer state, the random generator, the epoch, the
step, the history, the guard's state, the whole TrainConfig, and, for a run stopped inside an epoch (Ctrl-C), its
``position`` there: the generator's state when the epoch drew its permutation (to draw it again), the batches done
and the running sums of the epoch's losses. So 2 epochs straight equal 1 epoch, save, load, 1 more epoch, bit for
bit, and so does a run interrupted in the middle of an epoch and resumed.

Ctrl-C: the first one lets the current batch finish (so that the state saved is a state between two steps), saves it
as "<name>-interrupted.npz" and raises KeyboardInterrupt; a second one stops at once.
"""
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from minivae.datasets.binarize import binarize_dynamic, binarize_static
from minivae.datasets.text import trim_padding
from minivae.nn.optim import OPTIMIZERS, clip_grad_norm, make_optimizer
from minivae.training.checkpoint import Checkpoint, CheckpointError, generator_from_state, load_checkpoint, \
    save_checkpoint
# TrainConfig, RESUMABLE and recorded_config are also importable from here, where 0.1.0 had TrainConfig
from minivae.training.config import RESUMABLE, TrainConfig, config_changes, recorded_config, resume_refusal  # noqa
from minivae.training.guard import DivergenceGuard
from minivae.training.kl_schedule import kl_weight
from minivae.validation import as_float_array


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or stayed far above its start; the message names likely causes."""


HISTORY_KEYS = ("epoch", "train_loss", "train_reconstruction", "train_kl", "val_loss", "val_reconstruction",
                "val_kl", "active_units", "mutual_information", "beta", "seconds")


class Trainer:
    """Trains a VAE or Autoencoder (or a subclass) with one optimizer; see the module docstring for the loop.

    Parameters
    ----------
    model : any minivae model (minivae.models.base.Model): VAE, Autoencoder, ConvVAE, ConditionalVAE
    config : TrainConfig; an option the model cannot honour is refused here, before anything runs
    optimizer : an optimizer from minivae.nn.optim; default make_optimizer(config.optimizer, lr=config.lr). Given,
        the config's ``optimizer`` and ``lr`` are set to describe it, so that the checkpoint records what ran
    rng : the Generator for shuffling and noise; default np.random.default_rng(config.seed)
    """

    def __init__(self, model, config=None, optimizer=None, rng=None):
        self.model = model
        config = config or TrainConfig()
        if optimizer is not None:
            names = [name for name, cls in OPTIMIZERS.items() if type(optimizer) is cls]
            config = replace(config, lr=optimizer.lr, optimizer=names[0] if names else config.optimizer)
        self.config = config
        if self.config.warmup_steps and "beta" not in model.options:
            raise ValueError(f"{type(model).__name__} cannot honour warmup_steps={self.config.warmup_steps}: it has "
                             "no KL term to warm up")
        model.check_options(**self.config.model_options(labelled=model.conditional))
        if model.input_kind == "tokens" and self.config.binarize != "none":
            raise ValueError(f"{type(model).__name__} reads token ids: binarize (for pixels) does not apply to it; "
                             "leave it at 'none'")
        self.optimizer = optimizer or make_optimizer(self.config.optimizer, lr=self.config.lr)
        self.rng = rng or np.random.default_rng(self.config.seed)
        self.epoch = 0  # completed epochs
        self.step = 0  # completed optimizer steps
        self.history = {k: [] for k in HISTORY_KEYS}
        self.guard = DivergenceGuard(self.config.divergence_factor, self.config.divergence_patience)
        self.position = None  # inside an unfinished epoch: where it stands (see the module docstring)
        self.extra = {}  # JSON-able data saved with the checkpoint (a tabular encoder, the dataset name, ...)
        self._batch_start = None  # the generator's state when the current batch began (None between batches)
        self._updating = False  # inside the update of the parameters, whose interruption leaves no exact state

    @classmethod
    def from_checkpoint(cls, path, config=None):
        """Continue a run: the model, optimizer, generator, epoch, step, history, guard and position inside the
        epoch come from the checkpoint (a path, or a Checkpoint already loaded).

        ``config`` replaces the recorded training config (``recorded_config``), to raise ``epochs`` or set
        ``quiet``; a config that changes anything else is refused with a ValueError that names the option, since the
        run would no longer be the one recorded.
        """
        ckpt = path if isinstance(path, Checkpoint) else load_checkpoint(path)
        where = f"checkpoint {path}" if not isinstance(path, Checkpoint) else "the checkpoint"
        saved = recorded_config(ckpt)
        changed = config_changes(saved, config) if config is not None else []
        if changed:
            raise ValueError(resume_refusal(changed))
        if ckpt.optimizer is None or ckpt.rng is None:
            raise CheckpointError(f"{where} holds no optimizer or random generator state, so training cannot "
                                  "continue from it; train a new model instead")
        trainer = cls(ckpt.model, config or saved, ckpt.optimizer, ckpt.rng)
        extra = dict(ckpt.extra)
        trainer.epoch, trainer.step = ckpt.epoch, _count(extra.pop("step", 0), "step", where)
        trainer.history = {k: list(ckpt.history.get(k, [])) for k in HISTORY_KEYS}
        guard = extra.pop("guard", None) or {}
        try:
            trainer.guard = DivergenceGuard(trainer.config.divergence_factor, trainer.config.divergence_patience,
                                            None if guard.get("start") is None else float(guard["start"]),
                                            _count(guard.get("over", 0), "guard's count", where))
        except (AttributeError, TypeError, ValueError):
            raise CheckpointError(f"{where}: its divergence guard state {guard!r:.80} is not "
                                  '{"start": a number or null, "over": a count}') from None
        trainer.position = _checked_position(extra.pop("position", None), where)
        extra.pop("train_config", None)
        trainer.extra = extra
        return trainer

    def save(self, path):
        """Write a checkpoint of the current state (atomic)."""
        extra = {**self.extra, "train_config": asdict(self.config), "step": self.step, "guard": self.guard.state()}
        if self.position is not None:
            extra["position"] = self.position
        return save_checkpoint(path, self.model, self.optimizer, self.rng, self.epoch, self.history, extra)

    # -- data ----------------------------------------------------------------------------------------------------------

    def _prepare(self, x, y, name):
        if self.model.input_kind == "tokens":  # (N, T) ids: checked by the model, kept as integers
            return self.model._check_x(x, name), None
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
        """The KL weight of the next step (``minivae.training.kl_schedule``): beta after the warm-up."""
        c = self.config
        return kl_weight(self.step, c.beta, c.warmup_steps, c.kl_schedule)

    def train_epoch(self, x, y=None, stop=None):
        """One pass over x in shuffled minibatches (or the rest of one, from ``self.position``); returns mean
        (loss, reconstruction, kl) over the examples. ``stop``: a _StopAtBatchEnd, asked after every batch."""
        c, n = self.config, len(x)
        if self.position is None:
            epoch_start = self.rng.bit_generator.state
            perm = self.rng.permutation(n)
            self.position = {"epoch_rng_state": epoch_start, "examples": n, "batches_done": 0,
                             "sums": [0.0, 0.0, 0.0]}
        elif self.position["examples"] != n:
            raise ValueError(f"this run stopped inside an epoch over {self.position['examples']} examples, but the "
                             f"training data have {n}: resume it on the data it was trained on")
        else:  # the same permutation again, from the generator's state at the start of the epoch
            perm = generator_from_state(self.position["epoch_rng_state"]).permutation(n)
        sums = np.array(self.position["sums"], dtype=np.float64)
        starts = range(0, n, c.batch_size)
        done = self.position["batches_done"]
        if done > len(starts):
            raise CheckpointError(f"the saved position says {done} batches of this epoch were done, but an epoch of "
                                  f"{n} examples in batches of {c.batch_size} has {len(starts)}")
        bar = tqdm(starts[done:], desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False, disable=c.quiet,
                   unit="batch")
        for b, start in enumerate(bar, start=done):
            self._batch_start = self.rng.bit_generator.state  # an interruption in this batch goes back here
            idx = perm[start:start + c.batch_size]
            xb = x[idx]
            if self.model.input_kind == "tokens":
                xb = trim_padding(xb)  # (B, T'): the batch's own longest text, not the corpus's
            if c.binarize == "dynamic":
                xb = binarize_dynamic(xb, self.rng)
            xin = self._corrupt(xb) if c.corruption > 0 else xb
            target = None if self.model.input_kind == "tokens" else xb  # token ids are never corrupted
            terms = self.model.loss_and_gradients(xin, rng=self.rng, beta=self.current_beta(),
                                                  free_bits=c.free_bits, target=target, iw_samples=c.iw_samples,
                                                  condition=None if y is None else y[idx])
            reason = self.guard.check(terms.loss)
            if reason is not None:
                raise TrainingDiverged(self._divergence_message(reason, terms))
            if c.clip_norm > 0:
                clip_grad_norm(self.model.grads, c.clip_norm)
            self._updating = True  # from here to the end of the bookkeeping, a step is taken or not, never half
            self.optimizer.step(self.model.params, self.model.grads)
            self.step += 1
            self.guard.commit(terms.loss)
            sums += len(idx) * np.array([terms.loss, terms.reconstruction, terms.kl])
            self.position["batches_done"], self.position["sums"] = b + 1, sums.tolist()
            self._updating, self._batch_start = False, None
            if not c.quiet:
                bar.set_postfix(loss=f"{sums[0] / min(start + c.batch_size, n):.2f}", refresh=False)
            if stop is not None and stop.requested and b + 1 < len(starts):
                raise KeyboardInterrupt
        return sums / n

    def _divergence_message(self, reason, terms):
        last = self.history["train_loss"][-1] if self.history["train_loss"] else None
        last_text = f"{last:.2f}" if last is not None else "none yet"
        return (
            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: {reason} (reconstruction "
            f"{terms.reconstruction:.4g}, KL {terms.kl:.4g}; last epoch's mean loss {last_text}). Likely causes: a "
            f"learning rate too high for {type(self.optimizer).__name__} (now {self.optimizer.lr:g}; try 10x "
            "smaller), exploding gradients (set clip_norm, e.g. 10), data far outside the likelihood's range "
            "(rescale them), or a Gaussian likelihood with a learned variance collapsing onto constant pixels (use "
            "the Bernoulli or fixed-variance likelihood).")

    # -- evaluation -------------------------------------------------------------------------------------------------

    def evaluate(self, x, y=None, batch_size=1000, epoch=None):
        """Mean (loss, reconstruction, kl) on x with fixed noise (np.random.default_rng([seed, epoch]), epoch
        default ``self.epoch``); loss = reconstruction + beta * kl, one sample of z per example."""
        rng = np.random.default_rng([self.config.seed, self.epoch if epoch is None else epoch])
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

    def _latent_use(self, x, y):
        """(active units, mutual information estimate in nats) on the first 2,000 examples of x, or (None, None)
        for a model without a posterior (or a conditional one, whose posterior also depends on the labels).

        Both say whether z is used at all: a collapsed posterior has 0 active units and I(x; z) near 0
        (``minivae.apps.latent.active_units``, ``minivae.apps.evaluation.mutual_information``). The MI estimate is
        at most log(2000) = 7.6 nats.
        """
        if not self.model.probabilistic or self.model.conditional:
            return None, None
        from minivae.apps.evaluation import mutual_information
        from minivae.apps.latent import active_units

        x = x[:2000]
        return (int(active_units(self.model, x)[0]),
                float(mutual_information(self.model, x, np.random.default_rng(self.config.seed))))

    # -- the loop ------------------------------------------------------------------------------------------------------

    def fit(self, x_train, x_val=None, y_train=None, y_val=None, checkpoint_path=None):
        """Train until ``config.epochs`` epochs are done; return the history (a dict of lists, see HISTORY_KEYS).

        After each epoch the checkpoint (if a path is given) is rewritten atomically, and an "-interrupted" one
        beside it, now behind, is removed. On Ctrl-C the state between two steps is saved next to it as
        "<name>-interrupted.npz" and KeyboardInterrupt is raised again. On divergence, TrainingDiverged is raised
        and the checkpoint of the last good epoch is left as it was.
        """
        c = self.config
        x_train, y_train = self._prepare(x_train, y_train, "x_train")
        if x_val is not None:
            x_val, y_val = self._prepare(x_val, y_val, "x_val")
            if c.binarize == "dynamic":  # evaluate on one fixed binarization of the validation set
                x_val = binarize_dynamic(x_val, np.random.default_rng(c.seed))
        if not c.quiet and self.epoch < c.epochs:
            tqdm.write("per epoch: mean loss (reconstruction + beta x KL, nats per example, one sample of z) on the "
                       "training set" + (" and on the held-out set" if x_val is not None else ""))
        path = None if checkpoint_path is None else Path(checkpoint_path)
        with _StopAtBatchEnd() as stop:
            try:
                while self.epoch < c.epochs:
                    t0 = time.perf_counter()
                    train = self.train_epoch(x_train, y_train, stop)
                    val = self.evaluate(x_val, y_val, epoch=self.epoch + 1) if x_val is not None else [None] * 3
                    latent_use = self._latent_use(x_val if x_val is not None else x_train, y_val)
                    self.epoch, self.position = self.epoch + 1, None
                    self._record(train, val, latent_use, time.perf_counter() - t0)
                    if path is not None:
                        self.save(path)
                        _interrupted_path(path).unlink(missing_ok=True)  # behind this one now
                    if stop.requested and self.epoch < c.epochs:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                self._save_interrupted(path)
                raise
            except TrainingDiverged as err:
                kept = (f"The last good checkpoint (epoch {self.epoch}) is unchanged: {path}" if path is not None
                        and self.epoch > 0 and path.exists() else "There is no last good checkpoint: "
                        + ("no epoch had finished." if path is not None else "no checkpoint_path was given."))
                raise TrainingDiverged(f"{err} {kept}") from None
        return self.history

    def _save_interrupted(self, path):
        """On Ctrl-C: go back to the start of the batch that was running (its noise is drawn again when the run
        continues), and save that state, between two steps."""
        if self._updating:  # a second Ctrl-C inside the update: half the parameters moved
            print(f"\ninterrupted inside a parameter update, so no exact state could be saved; the checkpoint of "
                  f"epoch {self.epoch} is unchanged")
            return
        if self._batch_start is not None:
            self.rng.bit_generator.state, self._batch_start = self._batch_start, None
        if path is None:
            return
        saved = self.save(_interrupted_path(path))
        where = (f"after batch {self.position['batches_done']} of epoch {self.epoch + 1}"
                 if self.position is not None else f"after epoch {self.epoch}")
        print(f"\ninterrupted {where}: the state is saved in {saved}; resuming from it continues exactly there")

    def _record(self, train, val, latent_use, seconds):
        active, mi = latent_use
        row = {"epoch": self.epoch, "train_loss": train[0], "train_reconstruction": train[1], "train_kl": train[2],
               "val_loss": val[0], "val_reconstruction": val[1], "val_kl": val[2], "active_units": active,
               "mutual_information": mi, "beta": self.current_beta(), "seconds": seconds}
        for k in HISTORY_KEYS:
            v = row[k]
            self.history[k].append(None if v is None else (int(v) if k in ("epoch", "active_units") else float(v)))
        if not self.config.quiet:
            val_text = f"  held-out {val[0]:.2f}" if val[0] is not None else ""
            active_text = (f"  active units {active}/{self.model.latent_dim}, I(x;z) {mi:.2f}" if active is not None
                           else "")
            tqdm.write(f"epoch {self.epoch}/{self.config.epochs}  train {train[0]:.2f} (reconstruction "
                       f"{train[1]:.2f}, KL {train[2]:.2f}){val_text}{active_text}  {seconds:.1f}s")


def _interrupted_path(path):
    return path.with_name(path.stem + "-interrupted.npz")


class _StopAtBatchEnd:
    """While ``fit`` runs: the first Ctrl-C (SIGINT) sets ``requested``, and the loop stops at the end of the batch;
    a second one raises KeyboardInterrupt at once. Outside the main thread (no signals there) it does nothing."""

    def __enter__(self):
        self.requested, self._previous = False, None
        if threading.current_thread() is threading.main_thread():
            try:
                previous = signal.signal(signal.SIGINT, self._handle)
            except (ValueError, OSError):  # an embedding that does not let Python handle signals
                return self
            self._previous = previous if previous is not None else signal.default_int_handler
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
        tqdm.write("\nCtrl-C: stopping at the end of this batch (press Ctrl-C again to stop at once)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _count(value, what, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"{where}: its {what} is {value!r:.40}, not a count >= 0")
    return value


def _checked_position(position, where):
    """The ``position`` of a checkpoint saved inside an epoch, checked; None for one saved between epochs."""
    if position is None:
        return None
    try:
        ok = (isinstance(position, dict) and isinstance(position["epoch_rng_state"], dict)
              and all(isinstance(position[k], int) and not isinstance(position[k], bool) and position[k] >= 0
                      for k in ("examples", "batches_done"))
              and len(position["sums"]) == 3 and all(isinstance(s, (int, float)) for s in position["sums"]))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise CheckpointError(f"{where}: its position inside the epoch ({position!r:.80}) is not "
                              '{"epoch_rng_state": ..., "examples": N, "batches_done": k, "sums": [3 numbers]}')
    generator_from_state(position["epoch_rng_state"], where)  # a clear error for a bad state
    return dict(position, sums=[float(s) for s in position["sums"]])
