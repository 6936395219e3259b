"""KL annealing: the weight beta_t of the KL term at training step t, growing from 0 to beta over the first N steps.

A VAE of text whose decoder is strong (an RNN that sees the previous tokens) learns at first to ignore z: with the KL
at full weight from the first step, pushing q(z | x) onto the prior is the cheapest way down, and the posterior
collapses (Bowman et al. 2016). Annealing starts with beta_t near 0, so that z carries information before the KL is
charged for it. Two schedules, N = ``warmup_steps``:

    linear     beta_t = beta * min(1, t / N)                                  (Sonderby et al. 2016; 0 at t = 0)
    logistic   beta_t = beta / (1 + exp(-k (t - x0))),  k = 10 / N, x0 = N / 2
               (Bowman et al. 2016: 0.0067 beta at t = 0, beta / 2 at N / 2, 0.993 beta at N; timbmg's
               Sentence-VAE uses k = 0.0025, x0 = 2500, close to N = 4000 here)

With N = 0 there is no annealing: beta_t = beta from the first step.

Example
-------
>>> kl_weight(50, beta=1.0, warmup_steps=100, schedule="linear")
0.5
>>> round(kl_weight(50, beta=1.0, warmup_steps=100, schedule="logistic"), 3)
0.5
"""
import math

SCHEDULES = ("linear", "logistic")


def kl_weight(step, beta, warmup_steps, schedule="linear"):
    """beta_t of the step ``step`` (0 for the first), by the formulas of the module docstring."""
    if schedule not in SCHEDULES:
        raise ValueError(f"the KL schedule must be one of {SCHEDULES}, got {schedule!r}")
    if warmup_steps == 0:
        return beta
    if schedule == "linear":
        return beta * min(1.0, step / warmup_steps)
    k, x0 = 10.0 / warmup_steps, warmup_steps / 2
    return beta / (1.0 + math.exp(-k * (step - x0)))
