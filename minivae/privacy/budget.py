"""A private run's budget: the sampling rate, the steps, the noise, and the checks made before the first step.

A DP-SGD run (``minivae.privacy.dp_sgd``) over N examples with expected batch size L, clipping norm C and noise
multiplier sigma spends, after T steps, the (epsilon, delta) of the sampled Gaussian mechanism that the accountant
(``minivae.privacy.accountant``) computes for

    q = L / N                   the sampling rate: each example is in each step's batch with probability q
    T = epochs * round(N / L)   steps: an epoch is N / L steps, in which each example is seen once on average

Two ways to set a run up, as in Opacus:

    PrivateRun.for_target(N, L, C, delta, epsilon=3, epochs=20)   sigma = the least noise that spends at most
                                                                  epsilon in those 20 epochs (noise_multiplier_for)
    PrivateRun(N, L, C, sigma, delta, budget=3)                   sigma given; the run stops after the
                                                                  max_steps = steps_for(3, delta, q, sigma) steps

With no budget (budget=None) a run with a given sigma trains for its epochs and reports the epsilon it spent.

What is refused, with a one-line ValueError, before any training (a data-protection officer's first questions):
    epsilon <= 0, delta <= 0, delta >= 1 / N (a delta that large allows a mechanism that publishes one whole
    example: the guarantee says nothing), C <= 0, sigma <= 0 (no noise is no privacy), L > N, a budget too small
    for even one step.

The record (``PrivateRun.record``, stored in the checkpoint) says what was spent and, as plainly, what the guarantee
covers and what it does not.
"""
import math
from dataclasses import dataclass
from functools import cached_property

from minivae.privacy.accountant import DEFAULT_ORDERS, epsilon_from_rdp, noise_multiplier_for, rdp_sampled_gaussian, \
    steps_for
from minivae.privacy.dp_sgd import steps_per_epoch

ACCOUNTANT = "RDP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019), tight conversion to (epsilon, delta)"
COVERED = ("the model's parameters after every step, and whatever is computed from them alone: samples, synthetic "
           "rows, scores and reconstructions of data that were not trained on")
NOT_COVERED = ("the training losses printed and stored in the history and in the divergence guard (statistics of the "
               "training data, without noise); a table's encoder (each numeric column's smallest and largest "
               "value, transform, mean and spread, each category list), fitted on the training data, and so every "
               "synthetic row's range; hyperparameters chosen by looking at the data; "
               "several runs on the same data (their epsilons add up)")


@dataclass(frozen=True)
class PrivateRun:
    """The privacy settings of a DP-SGD run over ``examples`` examples, checked (see the module docstring).

    examples : N    expected_batch_size : L (<= N)    clip_norm : C > 0    noise_multiplier : sigma > 0
    delta : in (0, 1 / N)    budget : the epsilon the run may spend (> 0), or None for no limit
    """

    examples: int
    expected_batch_size: int
    clip_norm: float
    noise_multiplier: float
    delta: float
    budget: float = None

    def __post_init__(self):
        n, batch = self.examples, self.expected_batch_size
        if n < 1:
            raise ValueError("a private run needs training examples, got none")
        if not 1 <= batch <= n:
            raise ValueError(f"the expected batch size must lie between 1 and the {n} training examples, got {batch}")
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise ValueError(f"the clipping norm (--max-grad-norm) must be a positive number, got {self.clip_norm!r}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0):
            raise ValueError(f"the noise multiplier (--noise-multiplier) must be a positive number, got "
                             f"{self.noise_multiplier!r}: without noise, clipping alone protects nothing")
        check_delta(self.delta, n)
        if self.budget is not None:
            check_epsilon(self.budget)
            if self.max_steps == 0:
                raise ValueError(
                    f"the budget epsilon = {self.budget:g} is too small for even one step at sampling rate "
                    f"q = {self.sampling_rate:.4g} with noise multiplier {self.noise_multiplier:g} (one step spends "
                    f"{self.epsilon_after(1):.3g}); allow a larger epsilon, add noise, or use a smaller batch")

    @classmethod
    def for_target(cls, examples, expected_batch_size, clip_norm, delta, epsilon, epochs):
        """The run whose sigma is the least that keeps ``epochs`` epochs within (epsilon, delta); its budget is
        epsilon, so that training longer than planned stops when it is spent."""
        check_epsilon(epsilon)
        check_delta(delta, examples)
        if not 1 <= expected_batch_size <= examples:
            raise ValueError(f"the expected batch size must lie between 1 and the {examples} training examples, "
                             f"got {expected_batch_size}")
        if epochs < 1:
            raise ValueError(f"a target epsilon needs at least one epoch to spend it on, got {epochs}")
        steps = epochs * steps_per_epoch(examples, expected_batch_size)
        sigma = noise_multiplier_for(epsilon, delta, expected_batch_size / examples, steps)
        return cls(examples, expected_batch_size, clip_norm, sigma, delta, budget=epsilon)

    @property
    def sampling_rate(self):
        """q = L / N."""
        return self.expected_batch_size / self.examples

    @property
    def steps_per_epoch(self):
        return steps_per_epoch(self.examples, self.expected_batch_size)

    @property
    def max_steps(self):
        """The steps the budget allows (steps_for), or None without a budget."""
        if self.budget is None:
            return None
        return steps_for(self.budget, self.delta, self.sampling_rate, self.noise_multiplier)

    @cached_property
    def _rdp_of_one_step(self):
        """The RDP of one step at each of DEFAULT_ORDERS: T steps have T times it (composition), so a run computes it
        once (the fractional orders' series take about 60 ms)."""
        return rdp_sampled_gaussian(self.sampling_rate, self.noise_multiplier, 1, DEFAULT_ORDERS)

    def epsilon_after(self, steps):
        """The epsilon spent by ``steps`` steps, at this run's delta (0 before the first step): the accountant's
        ``epsilon(q, sigma, steps, delta)``, from the RDP of one step times ``steps``."""
        return epsilon_from_rdp(DEFAULT_ORDERS, steps * self._rdp_of_one_step, self.delta)[0]

    def describe(self):
        """The line a trainer prints before the first step."""
        budget = (f"budget epsilon {self.budget:g}: at most {self.max_steps} steps" if self.budget is not None
                  else "no budget")
        return (f"private training (DP-SGD): clipping norm {self.clip_norm:g}, noise multiplier "
                f"{self.noise_multiplier:.4g}, Poisson batches of {self.expected_batch_size} examples on average "
                f"(q = {self.sampling_rate:.4g}), {self.steps_per_epoch} steps per epoch, delta {self.delta:g}, "
                f"{budget}")

    def spent(self, steps):
        """'has spent its privacy budget: ...' after ``steps`` steps."""
        return (f"has spent its privacy budget: {steps} steps, epsilon {self.epsilon_after(steps):.3f} of "
                f"{self.budget:g} (delta {self.delta:g})")

    def record(self, steps):
        """What a checkpoint stores: the settings, the (epsilon, delta) after ``steps`` steps, what it covers."""
        return {"mechanism": "DP-SGD: Poisson sampling, per-example clipping, Gaussian noise (Abadi et al. 2016)",
                "accountant": ACCOUNTANT, "epsilon": self.epsilon_after(steps), "delta": self.delta,
                "steps": steps, "budget": self.budget, "sampling_rate": self.sampling_rate,
                "expected_batch_size": self.expected_batch_size, "examples": self.examples,
                "noise_multiplier": self.noise_multiplier, "clip_norm": self.clip_norm,
                "covered": COVERED, "not_covered": NOT_COVERED}


def check_epsilon(value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"epsilon (--dp-epsilon) must be a positive number, got {value!r}")


def check_delta(value, examples):
    """delta must lie in (0, 1 / N): above 1 / N, "publish one random example whole" would meet the guarantee."""
    if not (isinstance(value, (int, float)) and 0 < value < 1 / examples):
        raise ValueError(f"delta (--dp-delta) must lie between 0 and 1 / N = {1 / examples:.3g} for the {examples} "
                         f"training examples, got {value!r}: a larger delta allows leaking an example whole. "
                         f"A common choice is below 1 / (10 N), e.g. {_below(0.1 / examples):g}")


def _below(x):
    """The largest 1eK not above x: 1e-5 for 1.1e-5."""
    return 10.0 ** math.floor(math.log10(x))
