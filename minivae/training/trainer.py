"""Training: shuffled minibatches, validation every epoch, checkpoints, exact resume, and a guard against divergence.

    trainer = Trainer(VAE(784, latent_dim=2), TrainConfig(epochs=10))
    history = trainer.fit(data.x_train, data.x_test, checkpoint_path="runs/mnist/checkpoint.npz")

One epoch, in order (the order is part of the contract, because resuming must repeat it exactly):

    optimizer.lr = learning_rate(epoch, lr, lr_schedule, lr_decay)  # lr unchanged by default (training/lr_schedule)
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

A private run (``config.dp_clip_norm > 0``: DP-SGD, minivae.privacy) differs in three lines: an epoch is
round(N / L) steps, each batch is drawn by Poisson sampling instead of from a permutation, and the step clips each
example's gradient and adds noise once (minivae.privacy.dp_sgd), with the guard between the two:

    idx = poisson_batch(N, q = L / N, rng)           # each example in the batch with probability q; L = batch_size
    clipped = clipped_gradient_sum(model, xin, C, rng, ...)     # the model's own step, each example's share clipped
    stop if the loss diverged
    noise_and_average(grads, C, sigma, L, rng)       # + N(0, sigma^2 C^2 I), / L
    optimizer.step(params, grads)

and it stops before a step that would spend more than its budget (``config.dp_epsilon``). The epsilon spent is
printed every epoch, stored in the history and, with what it covers, in the checkpoint (``extra["privacy"]``).

What a checkpoint holds to continue exactly: the model, the optimizer state, the random generator, the epoch, the
step, the history, the guard's state, the whole TrainConfig, and, for a run stopped inside an epoch (Ctrl-C), its
``position`` there: the generator's state when the epoch drew its permutation (to draw it again), the batches done
and the running sums of the epoch's losses. So 2 epochs straight equal 1 epoch, save, load, 1 more epoch, bit for
bit, and so does a run interrupted in the middle of an epoch and resumed (Ctrl-C: training/interrupt.py).

On several MPI ranks (``comm=world()``) every rank runs this loop with the same generator; the model's call becomes
its shard's share and one Allreduce (minivae.distributed.data_parallel); rank 0 alone prints and saves. A checkpoint
does not depend on the number of ranks: a run resumes on any number.
"""
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from minivae.apps.evaluation import latent_use
from minivae.datasets.binarize import binarize_dynamic, binarize_static
from minivae.datasets.text import trim_padding
from minivae.distributed.data_parallel import DataParallel, any_rank, evaluation_shard
from minivae.distributed.mpi import SingleProcess, run_on_root
from minivae.nn.optim import OPTIMIZERS, clip_grad_norm, make_optimizer
from minivae.privacy.budget import PrivateRun
from minivae.privacy.dp_sgd import noise_and_average, poisson_batch
from minivae.privacy.per_example import check_per_example, clipped_gradient_sum
from minivae.training.checkpoint import Checkpoint, CheckpointError, generator_from_state, load_checkpoint, \
    save_checkpoint
# TrainConfig, RESUMABLE and recorded_config are also importable from here, where 0.1.0 had TrainConfig
from minivae.training.config import RESUMABLE, TrainConfig, config_changes, recorded_config, resume_refusal  # noqa
from minivae.training.guard import DivergenceGuard, divergence_message
from minivae.training.interrupt import StopAtBatchEnd, checked_count, checked_position, interrupted_path, \
    save_interrupted
from minivae.training.kernel_loading import load_kernels
from minivae.training.kl_schedule import kl_weight
from minivae.training.lr_schedule import learning_rate
from minivae.validation import as_float_array


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or stayed far above its start; the message names likely causes."""


class PrivacyBudgetSpent(ValueError):
    """A private run asked to train on after its budget (config.dp_epsilon) was spent."""


HISTORY_KEYS = ("epoch", "train_loss", "train_reconstruction", "train_kl", "val_loss", "val_reconstruction",
                "val_kl", "active_units", "mutual_information", "beta", "epsilon", "seconds")


class Trainer:
    """Trains a VAE or Autoencoder (or a subclass) with one optimizer; see the module docstring for the loop.

    Parameters
    ----------
    model : any minivae model (minivae.models.base.Model): VAE, Autoencoder, ConvVAE, ConditionalVAE
    config : TrainConfig; an option the model cannot honour is refused here, before anything runs
    optimizer : an optimizer from minivae.nn.optim; default make_optimizer(config.optimizer, lr=config.lr). Given,
        the config's ``optimizer`` and ``lr`` (but a schedule's base rate) describe it: the checkpoint records what ran
    rng : the Generator for shuffling and noise; default np.random.default_rng(config.seed)
    comm : the communicator of a data-parallel run (``minivae.distributed.mpi.world()``); default SingleProcess(),
        one process. On more than one rank only rank 0 prints and writes.
    """

    def __init__(self, model, config=None, optimizer=None, rng=None, comm=None):
        self.model = model
        self.comm = comm or SingleProcess()
        config = config or TrainConfig()
        if optimizer is not None:
            names = [name for name, cls in OPTIMIZERS.items() if type(optimizer) is cls]
            lr = optimizer.lr if config.lr_schedule == "constant" else config.lr  # else the schedule sets it
            config = replace(config, lr=lr, optimizer=names[0] if names else config.optimizer)
        self.config = config
        if self.config.warmup_steps and "beta" not in model.options:
            raise ValueError(f"{type(model).__name__} cannot honour warmup_steps={self.config.warmup_steps}: it has "
                             "no KL term to warm up")
        model.check_options(**self.config.model_options(labelled=model.conditional))
        if self.config.private:  # a model or option without per-example gradients is refused here, before any data
            check_per_example(model, **self.config.model_options(labelled=model.conditional))
        if model.input_kind == "tokens" and self.config.binarize != "none":
            raise ValueError(f"{type(model).__name__} reads token ids: binarize (for pixels) does not apply to it; "
                             "leave it at 'none'")
        self._parallel = DataParallel(model, self.comm) if self.comm.size > 1 else None  # refuses other models
        self._quiet = self.config.quiet or not self.comm.is_root  # only rank 0 prints
        self.optimizer = optimizer or make_optimizer(self.config.optimizer, lr=self.config.lr)
        self.rng = rng or np.random.default_rng(self.config.seed)
        self.epoch, self.step = 0, 0  # completed epochs and optimizer steps
        self.history = {k: [] for k in HISTORY_KEYS}
        self.guard = DivergenceGuard(self.config.divergence_factor, self.config.divergence_patience)
        self.position = None  # inside an unfinished epoch: where it stands (see the module docstring)
        self.extra = {}  # JSON-able data saved with the checkpoint (a tabular encoder, the dataset name, ...)
        self._batch_start = None  # the generator's state when the current batch began (None between batches)
        self._updating = False  # inside the update of the parameters, whose interruption leaves no exact state
        self.privacy = None  # a private run's PrivateRun, made by fit once the number of examples is known
        self.budget_spent = False  # a private run's last epoch stopped because the next step would pass the budget
        self._max_steps = None  # the steps a private run's budget allows (None: no limit)
        self.kernel_seconds = None  # the time fit took to load the kernels before its first epoch

    @classmethod
    def from_checkpoint(cls, path, config=None, comm=None):
        """Continue a run: the model, optimizer, generator, epoch, step, history, guard and position inside the
        epoch come from the checkpoint (a path, or a Checkpoint), on any number of ranks (``comm``, as in Trainer).
        ``config`` replaces the recorded training config (``recorded_config``) to raise ``epochs`` or set ``quiet``;
        one that changes anything else is refused with a ValueError naming the option (another run than recorded).
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
        trainer = cls(ckpt.model, config or saved, ckpt.optimizer, ckpt.rng, comm)
        extra = dict(ckpt.extra)
        trainer.epoch, trainer.step = ckpt.epoch, checked_count(extra.pop("step", 0), "step", where)
        epochs_done = len(ckpt.history.get("epoch", []))  # a key added since the checkpoint was written: None
        trainer.history = {k: list(ckpt.history.get(k, [None] * epochs_done)) for k in HISTORY_KEYS}
        guard = extra.pop("guard", None) or {}
        try:
            trainer.guard = DivergenceGuard(trainer.config.divergence_factor, trainer.config.divergence_patience,
                                            None if guard.get("start") is None else float(guard["start"]),
                                            checked_count(guard.get("over", 0), "guard's count", where))
        except (AttributeError, TypeError, ValueError):
            raise CheckpointError(f"{where}: its divergence guard state {guard!r:.80} is not "
                                  '{"start": a number or null, "over": a count}') from None
        trainer.position = checked_position(extra.pop("position", None), where)
        extra.pop("train_config", None), extra.pop("privacy", None)  # privacy: recomputed from the config and step
        trainer.extra = extra
        return trainer

    def save(self, path):
        """Write a checkpoint of the current state (atomic)."""
        extra = {**self.extra, "train_config": asdict(self.config), "step": self.step, "guard": self.guard.state()}
        if self.position is not None:
            extra["position"] = self.position
        if self.privacy is not None:
            extra["privacy"] = self.privacy.record(self.step)
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

    # -- one epoch --------------------------------------------------------------------------------------------------

    def current_beta(self):
        """The KL weight of the next step (``minivae.training.kl_schedule``): beta after the warm-up."""
        return kl_weight(self.step, self.config.beta, self.config.warmup_steps, self.config.kl_schedule)

    def train_epoch(self, x, y=None, stop=None):
        """One pass over x in shuffled minibatches (or the rest of one, from ``self.position``); returns mean
        (loss, reconstruction, kl) over the examples seen. ``stop``: a StopAtBatchEnd, asked after every batch.
        A private run's epoch is ``privacy.steps_per_epoch`` Poisson batches, and ends early when the budget is."""
        c, n = self.config, len(x)
        if c.lr_schedule != "constant":  # the step size of this epoch (minivae.training.lr_schedule)
            self.optimizer.lr = learning_rate(self.epoch, c.lr, c.lr_schedule, c.lr_decay)
        perm = self._epoch_order(n)  # None in a private run: its batches are drawn one by one
        n_batches = self.privacy.steps_per_epoch if self.privacy else len(range(0, n, c.batch_size))
        done = self.position["batches_done"]
        if done > n_batches:
            raise CheckpointError(f"the saved position says {done} batches of this epoch were done, but an epoch of "
                                  f"{n} examples in batches of {c.batch_size} has {n_batches}")
        sums = np.array(self.position["sums"], dtype=np.float64)
        seen = self.position.get("seen", min(done * c.batch_size, n))  # (positions saved by 0.2 have no "seen")
        bar = tqdm(range(done, n_batches), desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False,
                   disable=self._quiet, unit="batch")
        for b in bar:
            self._batch_start = self.rng.bit_generator.state  # an interruption in this batch goes back here
            idx = (poisson_batch(n, self.privacy.sampling_rate, self.rng) if self.privacy is not None
                   else perm[b * c.batch_size:(b + 1) * c.batch_size])
            terms = self._train_step(x, y, idx, stop)
            self.step += 1
            if terms is not None:  # None: an empty Poisson batch (the step was noise alone)
                self.guard.commit(terms.loss)
                sums += len(idx) * np.array([terms.loss, terms.reconstruction, terms.kl])
                seen += len(idx)
            self.position.update(batches_done=b + 1, sums=sums.tolist(), seen=seen)
            self._updating, self._batch_start = False, None
            if not self._quiet:
                bar.set_postfix(loss=f"{sums[0] / max(seen, 1):.2f}", refresh=False)
            if self._max_steps is not None and self.step >= self._max_steps:
                self.budget_spent = True  # the next step would spend more than the budget
                break
            requested = stop is not None and stop.requested  # on several ranks: any rank's, sent with the step
            if (requested if self._parallel is None else self._parallel.stop_requested) and b + 1 < n_batches:
                raise KeyboardInterrupt
        return sums / seen if seen else np.full(3, np.nan)

    def _epoch_order(self, n):
        """Start the epoch (or find where it stands): its permutation of the n examples, None in a private run."""
        if self.position is None:
            epoch_start = self.rng.bit_generator.state
            perm = None if self.privacy is not None else self.rng.permutation(n)
            self.position = {"epoch_rng_state": epoch_start, "examples": n, "batches_done": 0,
                             "sums": [0.0, 0.0, 0.0], "seen": 0}
            return perm
        if self.position["examples"] != n:
            raise ValueError(f"this run stopped inside an epoch over {self.position['examples']} examples, but the "
                             f"training data have {n}: resume it on the data it was trained on")
        if self.privacy is not None:
            return None
        return generator_from_state(self.position["epoch_rng_state"]).permutation(n)  # the same one again

    def _train_step(self, x, y, idx, stop=None):
        """One optimizer step on the examples idx: the loop of the module docstring. Returns the batch's LossTerms
        (None for an empty batch, which only a private run draws); sets ``_updating`` for the update.
        On several ranks the model's call is its shard's share of the batch (``DataParallel.gradients``)."""
        c = self.config
        xb = x[idx]
        if self.model.input_kind == "tokens":
            xb = trim_padding(xb)  # (B, T'): the batch's own longest text, not the corpus's
        if c.binarize == "dynamic":
            xb = binarize_dynamic(xb, self.rng)
        # masking noise (denoising): each entry set to 0 with probability c.corruption
        xin = xb * (self.rng.random(xb.shape) >= c.corruption) if c.corruption > 0 else xb
        options = dict(beta=self.current_beta(), free_bits=c.free_bits, iw_samples=c.iw_samples,
                       target=None if self.model.input_kind == "tokens" else xb,  # token ids are never corrupted
                       condition=None if y is None else y[idx])
        if self._parallel is not None:  # the grads and terms of the whole batch, the same on every rank
            clip = c.dp_clip_norm if self.privacy is not None else 0.0  # DP-SGD: the clipped sum, noised below
            terms = self._parallel.gradients(xin, self.rng, private_clip=clip,
                                             stop=stop is not None and stop.requested, **options)
        elif self.privacy is None:
            terms = self.model.loss_and_gradients(xin, rng=self.rng, **options)
        else:
            terms = clipped_gradient_sum(self.model, xin, c.dp_clip_norm, self.rng, with_losses=False, **options).terms
        reason = None if terms is None else self.guard.check(terms.loss)
        if reason is not None:
            last = self.history["train_loss"][-1] if self.history["train_loss"] else None
            raise TrainingDiverged(divergence_message(reason, terms, self.epoch + 1, self.step + 1, last,
                                                      self.optimizer))
        if self.privacy is not None:
            noise_and_average(self.model.grads, c.dp_clip_norm, c.dp_noise_multiplier, c.batch_size, self.rng)
        elif c.clip_norm > 0:
            clip_grad_norm(self.model.grads, c.clip_norm)
        self._updating = True  # from here to the end of the bookkeeping, a step is taken or not, never half
        self.optimizer.step(self.model.params, self.model.grads)
        if self._parallel is not None:
            self._parallel.check_parameters(self.step + 1)
        return terms

    # -- evaluation -------------------------------------------------------------------------------------------------

    def evaluate(self, x, y=None, batch_size=1000, epoch=None):
        """Mean (loss, reconstruction, kl) on x with fixed noise (np.random.default_rng([seed, epoch]), epoch
        default ``self.epoch``); loss = reconstruction + beta * kl, one sample of z per example. On several ranks
        each scores its shard of every batch, with the batch's noise, and one Allreduce adds up the sums."""
        rng = np.random.default_rng([self.config.seed, self.epoch if epoch is None else epoch])
        sums = np.zeros(3)
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            yb = None if y is None else y[start:start + len(xb)]
            xb, yb, eps = evaluation_shard(self.comm, self.model, xb, yb, rng)  # one process: xb, yb, None
            if len(xb) == 0:  # a rank with no rows of a batch of fewer rows than ranks
                continue
            if self.model.probabilistic:
                t = self.model.elbo(xb, rng=rng, eps=eps, condition=yb)
                rec, kl = t.reconstruction, t.kl
            else:
                rec = self.model.reconstruction_error(xb)
                kl = np.zeros_like(rec)
            sums += [float((rec + self.config.beta * kl).sum()), float(rec.sum()), float(kl.sum())]
        return self.comm.allreduce_sum(sums) / len(x)

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
        if c.private:
            self._start_private(len(x_train))
        if not self._quiet and self.epoch < c.epochs:
            tqdm.write("per epoch: mean loss (reconstruction + beta x KL, nats per example, one sample of z) on the "
                       "training set" + (" and on the held-out set" if x_val is not None else ""))
        if self.epoch < c.epochs and self.kernel_seconds is None:  # once per trainer (training/kernel_loading.py)
            self.kernel_seconds = load_kernels(self, x_train, y_train)
        path = None if checkpoint_path is None else Path(checkpoint_path)
        with StopAtBatchEnd() as stop:
            try:
                while self.epoch < c.epochs:
                    t0 = time.perf_counter()
                    train = self.train_epoch(x_train, y_train, stop)
                    val = self.evaluate(x_val, y_val, epoch=self.epoch + 1) if x_val is not None else [None] * 3
                    latent = latent_use(self.model, x_val if x_val is not None else x_train, c.seed)
                    self.epoch, self.position = self.epoch + 1, None
                    self._record(train, val, latent, time.perf_counter() - t0)
                    if path is not None:  # rank 0 saves; every rank raises its error, if any
                        run_on_root(self.comm, lambda: (self.save(path),
                                                        interrupted_path(path).unlink(missing_ok=True)))
                    if self.budget_spent and self.epoch < c.epochs:
                        if not self._quiet:
                            tqdm.write(f"the run {self.privacy.spent(self.step)}: training stops in epoch "
                                       f"{self.epoch} of {c.epochs}")
                        break
                    if any_rank(self.comm, stop.requested) and self.epoch < c.epochs:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                save_interrupted(self, path)
                raise
            except TrainingDiverged as err:
                kept = (f"The last good checkpoint (epoch {self.epoch}) is unchanged: {path}" if path is not None
                        and self.epoch > 0 and path.exists() else "There is no last good checkpoint: "
                        + ("no epoch had finished." if path is not None else "no checkpoint_path was given."))
                raise TrainingDiverged(f"{err} {kept}") from None
        return self.history

    def _start_private(self, n):
        """A private run over n examples: its PrivateRun (which refuses a delta >= 1 / n or a budget too small for
        one step, before any training), and a clear error if its budget is already spent."""
        c = self.config
        self.privacy = PrivateRun(n, c.batch_size, c.dp_clip_norm, c.dp_noise_multiplier, c.dp_delta,
                                  c.dp_epsilon or None)
        self._max_steps = self.privacy.max_steps
        if self._max_steps is not None and self.step >= self._max_steps and self.epoch < c.epochs:
            raise PrivacyBudgetSpent(f"this private run {self.privacy.spent(self.step)}; training further would "
                                     "spend more. Use the model as it is, or start a new run with a larger budget "
                                     "(the two runs' epsilons then add up)")
        if not self._quiet:
            tqdm.write(self.privacy.describe())

    def _record(self, train, val, latent_use, seconds):
        active, mi = latent_use
        row = {"epoch": self.epoch, "train_loss": train[0], "train_reconstruction": train[1], "train_kl": train[2],
               "val_loss": val[0], "val_reconstruction": val[1], "val_kl": val[2], "active_units": active,
               "mutual_information": mi, "beta": self.current_beta(), "seconds": seconds,
               "epsilon": None if self.privacy is None else self.privacy.epsilon_after(self.step)}
        for k in HISTORY_KEYS:
            v = row[k]
            self.history[k].append(None if v is None else (int(v) if k in ("epoch", "active_units") else float(v)))
        if not self._quiet:
            val_text = f"  held-out {val[0]:.2f}" if val[0] is not None else ""
            active_text = (f"  active units {active}/{self.model.latent_dim}, I(x;z) {mi:.2f}" if active is not None
                           else "")
            private_text = (f"  epsilon {row['epsilon']:.3f} (delta {self.config.dp_delta:g})"
                            if self.privacy is not None else "")
            tqdm.write(f"epoch {self.epoch}/{self.config.epochs}  train {train[0]:.2f} (reconstruction "
                       f"{train[1]:.2f}, KL {train[2]:.2f}){val_text}{active_text}{private_text}  {seconds:.1f}s")
