"""The divergence guard: training stops when the loss is not a number, or when it stays far above where it started.

    start  = the loss of the run's first step (the untrained model's, in nats per example)
    limit  = start + factor * max(|start|, 1)                 factor = TrainConfig.divergence_factor, 10
    stop when   loss is NaN or infinite                       at once
           or   loss > limit                                  for TrainConfig.divergence_patience = 10 steps in a row

Why this bound. A run that diverges rarely ends in NaN: with a learning rate of 1e3 the MNIST VAE's loss jumps from
547 to 1e17 nats in one step and then wanders between 1e5 and 1e14, finite all along. What a working run does:
the untrained model knows nothing (its Bernoulli decoder says 0.5 for every pixel: 784 ln 2 = 543 nats on MNIST),
training lowers the loss fast (to about 200 in the first epoch) and never brings it back above the start by much.
KL warm-up and a large beta do raise the loss as beta grows, but a model that gives up on its latent code (posterior
collapse) still reconstructs the mean image, about 206 nats, well below the start; a learning rate that is high but
works (Adam at 0.1) spikes to 3 x the start for a few steps and recovers. So the bound is relative to the start, not
to the best loss so far (warm-up lifts the loss legitimately above its best), ten times its size above it, and
must hold for ten steps in a row, so that one bad batch does not end a run. ``max(|start|, 1)`` keeps the bound
meaningful for losses near zero or negative (a Gaussian likelihood's negative log density can be either).

The guard's state (the start and the count of steps above the limit) is saved in the checkpoint, so a resumed run
keeps guarding against the same bound.
"""
import math


class DivergenceGuard:
    """Watches the batch losses of a run (see the module docstring); ``check`` says whether to stop.

    Parameters
    ----------
    factor : how many times max(|start|, 1) above the start the limit lies (0: only NaN and infinity stop a run)
    patience : how many steps in a row above the limit stop a run
    start, over : the state of a resumed run (``state()``), default None and 0
    """

    def __init__(self, factor=10.0, patience=10, start=None, over=0):
        self.factor, self.patience = float(factor), int(patience)
        self.start, self.over = start, int(over)

    def limit(self):
        """The loss above which a step counts against the run (infinite before the first step or with factor 0)."""
        if self.start is None or self.factor == 0:
            return math.inf
        return self.start + self.factor * max(abs(self.start), 1.0)

    def check(self, loss):
        """The reason to stop at this loss (a sentence), or None to go on. Does not change the guard: ``commit``
        does, once the step is taken (so that a step interrupted before its update is counted once)."""
        if not math.isfinite(loss):
            return f"the loss is {loss}, not a finite number"
        if loss > self.limit() and self.over + 1 >= self.patience:
            return (f"the loss has stayed above {self.limit():.4g} nats for {self.patience} steps in a row (now "
                    f"{loss:.4g}); the limit is the untrained model's loss, {self.start:.4g}, plus {self.factor:g} "
                    f"x {max(abs(self.start), 1.0):.4g}")
        return None

    def commit(self, loss):
        """Count a step that was taken with this loss."""
        if self.start is None:
            self.start = float(loss)
        self.over = self.over + 1 if loss > self.limit() else 0

    def state(self):
        """What a checkpoint stores: {"start": float or None, "over": int}."""
        return {"start": self.start, "over": self.over}


def divergence_message(reason, terms, epoch, step, last_epoch_loss, optimizer):
    """The sentence a diverged run stops with: where, why (``reason`` from ``check``), the batch's LossTerms, the last
    epoch's mean loss (None before the first epoch ends) and the likely causes."""
    last = f"{last_epoch_loss:.2f}" if last_epoch_loss is not None else "none yet"
    return (f"training diverged at epoch {epoch}, step {step}: {reason} (reconstruction {terms.reconstruction:.4g}, "
            f"KL {terms.kl:.4g}; last epoch's mean loss {last}). Likely causes: a learning rate too high for "
            f"{type(optimizer).__name__} (now {optimizer.lr:g}; try 10x smaller), exploding gradients (set clip_norm, "
            "e.g. 10), data far outside the likelihood's range (rescale them), or a Gaussian likelihood with a "
            "learned variance collapsing onto constant pixels (use the Bernoulli or fixed-variance likelihood).")
