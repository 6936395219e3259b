"""Every training setting in one place (TrainConfig), and what a resumed run may change of them.

A run is made by its settings: the batch size, the optimizer and its learning rate, the KL weight and its warm-up,
the binarization, the seed... A checkpoint records all of them (``Trainer.save``), and resuming continues with the
recorded ones: ``config_changes`` lists the options a new config would change, and ``resume_refusal`` is the message
that refuses them. Only the RESUMABLE options may change on resume.

Example
-------
>>> recorded = TrainConfig(batch_size=32, lr=3e-3)
>>> config_changes(recorded, TrainConfig(batch_size=32, lr=3e-3, epochs=20))     # raising epochs: allowed
[]
>>> config_changes(recorded, TrainConfig(lr=3e-3))
[('batch_size', 32, 128)]
"""
import numbers
from dataclasses import dataclass, fields, replace

import numpy as np

from minivae.nn.optim import OPTIMIZERS
from minivae.training.checkpoint import CheckpointError
from minivae.training.kl_schedule import SCHEDULES
from minivae.training.lr_schedule import SCHEDULES as LR_SCHEDULES


@dataclass
class TrainConfig:
    """Every training setting in one place, with the defaults of the main job.

    The divergence guard (minivae/training/guard.py) stops a run when a batch loss is NaN or infinite, or when it
    stays above ``start + divergence_factor * max(|start|, 1)`` for ``divergence_patience`` steps in a row, where
    ``start`` is the loss of the run's first step (the untrained model's: 543 nats for the MNIST VAE, so the limit
    is 5,973). Normal training, KL warm-up and large betas stay far below it; a learning rate of 1e3 passes it at once.
    """

    epochs: int = 10              # total number of epochs (a resumed run continues up to this number)
    batch_size: int = 128
    optimizer: str = "adam"       # sgd | adagrad | rmsprop | adam | adamw
    lr: float = 1e-3              # the base learning rate: that of epoch 0
    lr_schedule: str = "constant"  # constant | exponential | burda: how it falls (minivae.training.lr_schedule)
    lr_decay: float = 1.0         # the exponential schedule's factor per epoch, in (0, 1)
    beta: float = 1.0             # weight of the KL term (beta-VAE when != 1)
    warmup_steps: int = 0         # KL annealing: beta grows from 0 to beta over this many steps
    kl_schedule: str = "linear"   # linear | logistic: the shape of that growth (minivae.training.kl_schedule)
    free_bits: float = 0.0        # a floor, in nats, on the KL of each latent dimension (0: off)
    binarize: str = "none"        # none (grey values) | static (threshold 0.5) | dynamic (resampled every epoch)
    corruption: float = 0.0       # denoising: fraction of input entries set to 0 (the target stays clean)
    clip_norm: float = 0.0        # clip the global gradient norm to this value (0: off)
    iw_samples: int = 1           # > 1: train on the importance-weighted bound with this many samples (IWAE)
    seed: int = 0                 # shuffling, noise and binarization all come from this seed
    dp_clip_norm: float = 0.0     # > 0: differentially private training (DP-SGD), each example's gradient clipped to C
    dp_noise_multiplier: float = 0.0  # DP-SGD's sigma: Gaussian noise of standard deviation sigma * C on the sum
    dp_delta: float = 0.0         # the delta of the (epsilon, delta) guarantee, in (0, 1 / N)
    dp_epsilon: float = 0.0       # the privacy budget: training stops before a step would spend more (0: no limit)
    divergence_factor: float = 10.0  # the guard's limit: start + factor * max(|start|, 1) (0: NaN/inf only)
    divergence_patience: int = 10    # steps in a row above the limit that stop the run
    quiet: bool = False           # no progress bar, no per-epoch line

    def __post_init__(self):
        kinds = {int: (numbers.Integral, "an integer"), float: (numbers.Real, "a number"), str: (str, "a string"),
                 bool: (bool, "True or False")}
        for f in fields(self):
            kind, text = kinds[f.type]
            value = getattr(self, f.name)
            if not isinstance(value, kind) or (isinstance(value, bool) and f.type is not bool):
                raise ValueError(f"TrainConfig.{f.name} must be {text}, got {value!r}")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if self.binarize not in ("none", "static", "dynamic"):
            raise ValueError(f"binarize must be 'none', 'static' or 'dynamic', got {self.binarize!r}")
        if not 0 <= self.corruption < 1:
            raise ValueError(f"corruption must be a fraction in [0, 1), got {self.corruption}")
        if self.beta < 0 or self.warmup_steps < 0 or self.free_bits < 0 or self.clip_norm < 0:
            raise ValueError("beta, warmup_steps, free_bits and clip_norm must not be negative")
        if self.kl_schedule not in SCHEDULES:
            raise ValueError(f"kl_schedule must be one of {SCHEDULES}, got {self.kl_schedule!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if (self.lr_schedule == "exponential") != (self.lr_decay != 1) or not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay (now {self.lr_decay:g}) is the exponential schedule's factor per epoch: "
                             "give it a value in (0, 1) with lr_schedule='exponential', and leave it at 1 otherwise")
        if self.iw_samples < 1:
            raise ValueError(f"iw_samples must be at least 1, got {self.iw_samples}")
        if self.iw_samples > 1 and (self.beta != 1 or self.warmup_steps or self.free_bits):
            raise ValueError("iw_samples > 1 trains on the importance-weighted bound of log p(x), which has no KL "
                             "weight: use it with beta = 1, no warm-up and no free bits")
        self._check_privacy()
        if self.divergence_factor < 0 or self.divergence_patience < 1:
            raise ValueError(f"divergence_factor must be >= 0 and divergence_patience >= 1, got "
                             f"{self.divergence_factor} and {self.divergence_patience}")

    @property
    def private(self):
        """True for a DP-SGD run (dp_clip_norm > 0): batch_size is then the expected size of a Poisson batch."""
        return self.dp_clip_norm > 0

    def _check_privacy(self):
        """The DP-SGD options alone; with the data, minivae.privacy.budget.PrivateRun checks the rest (delta < 1/N)."""
        dp = {"dp_clip_norm": self.dp_clip_norm, "dp_noise_multiplier": self.dp_noise_multiplier,
              "dp_delta": self.dp_delta, "dp_epsilon": self.dp_epsilon}
        for name, value in dp.items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if not self.private:
            if any(dp.values()):
                given = ", ".join(f"{k}={v!r}" for k, v in dp.items() if v)
                raise ValueError(f"{given} only apply to DP-SGD, which dp_clip_norm > 0 turns on (the clipping norm "
                                 "of each example's gradient, e.g. 1.0)")
            return
        if self.dp_noise_multiplier <= 0:
            raise ValueError("DP-SGD needs noise: dp_noise_multiplier must be > 0 (clipping alone protects nothing)")
        if not 0 < self.dp_delta < 1:
            raise ValueError(f"DP-SGD needs a delta in (0, 1 / N), e.g. 1e-5; got dp_delta={self.dp_delta!r}")
        if self.clip_norm > 0:
            raise ValueError(f"clip_norm={self.clip_norm} clips the batch's gradient, and DP-SGD already clips each "
                             "example's (dp_clip_norm): leave clip_norm at 0 in a private run")

    def model_options(self, labelled=False):
        """The training options this config asks of a model, as ``Model.check_options`` takes them.

        With KL warm-up the first steps use beta = 0 (the value checked); ``labelled``: labels will be passed;
        with corruption, the clean batch is a target other than the input.
        """
        return {"beta": 0.0 if self.warmup_steps else self.beta, "free_bits": self.free_bits,
                "iw_samples": self.iw_samples, "condition": np.zeros(1, int) if labelled else None,
                "target": np.zeros(1) if self.corruption > 0 else None}  # denoising: a target other than x

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# The settings a resumed run may change: the total number of epochs (raising it is what resuming is for) and the
# display. Every other one is part of how the run is made.
RESUMABLE = ("epochs", "quiet")


def recorded_config(ckpt, notes=None):
    """The TrainConfig a checkpoint's run was trained with (``ckpt.extra["train_config"]``).

    The optimizer's own settings win over the recorded ``optimizer`` and ``lr``: they are what ran (minivae 0.1.0
    resumed a run with the flags' learning rate in the record and the checkpoint's in the optimizer). A line saying
    so is appended to ``notes`` (a list), if given. With a learning-rate schedule the optimizer's rate is the
    schedule's of the last epoch, and the recorded base rate stands.
    """
    recorded = ckpt.extra.get("train_config", {})
    if not isinstance(recorded, dict):
        raise CheckpointError(f"the checkpoint's train_config is {recorded!r:.60}, not a dict of training options")
    try:
        config = TrainConfig.from_dict(recorded)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"the checkpoint's training config is not a valid TrainConfig ({err}); use a "
                              "checkpoint minivae wrote, or train again") from None
    if ckpt.optimizer is None:
        return config
    names = [name for name, cls in OPTIMIZERS.items() if type(ckpt.optimizer) is cls]
    lr = ckpt.optimizer.lr if config.lr_schedule == "constant" else config.lr
    ran = replace(config, lr=lr, optimizer=names[0] if names else config.optimizer)
    if notes is not None and (ran.lr, ran.optimizer) != (config.lr, config.optimizer):
        notes.append(f"note: the checkpoint's training config says {config.optimizer} with lr {config.lr:g}, but its "
                     f"optimizer ran as {ran.optimizer} with lr {ran.lr:g}; continuing as the optimizer ran")
    return ran


def config_changes(recorded, config):
    """[(option, recorded value, new value)] for every option but RESUMABLE in which ``config`` differs."""
    return [(f.name, getattr(recorded, f.name), getattr(config, f.name)) for f in fields(TrainConfig)
            if f.name not in RESUMABLE and getattr(recorded, f.name) != getattr(config, f.name)]


def resume_refusal(changes):
    """The message that refuses to resume with changed options."""
    listed = "; ".join(f"{name} was {old!r}, now {new!r}" for name, old, new in changes)
    return (f"cannot resume with changed training options ({listed}): a resumed run continues as it was made, "
            f"and only {' and '.join(RESUMABLE)} may change. Resume without them, or start a new run")
