"""One step of DP-SGD (Abadi et al. 2016) on a Poisson-sampled batch: clip, sum, add noise once, step.

    batch       B = {b : u_b < q},  u_b ~ U(0, 1) independently      Poisson sampling, rate q = L / N
    clip        g_b <- g_b * min(1, C / ||g_b||)                       each example's whole gradient (per_example.py)
    noise       G = sum_{b in B} g_b + N(0, sigma^2 C^2 I)             drawn once per step, from the run's generator
    average     g = G / L                                              L = q N, the EXPECTED batch size
    update      any minivae optimizer: optimizer.step(params, g)

Poisson sampling is what the accountant (``minivae.privacy.accountant``, the sampled Gaussian mechanism) analyses:
every example is in a step's batch with probability q, independently of the others. So the batch size varies from
step to step (its mean is L = q N, its standard deviation sqrt(N q (1 - q)), and a batch may even be empty); a
shuffled pass over fixed-size batches is a different mechanism, whose privacy the same numbers do not describe.
The sum is divided by L, not by the realised |B|: |B| depends on the data (on who is in it), and dividing by it
would be a second, unaccounted release. An epoch is N / L steps: each example is seen once per epoch on average.

The noise is drawn once per step for the whole gradient, parameter by parameter in the fixed order of
``model.grads``, from the same seeded generator as everything else in a run: a seed makes a private run repeatable
bit for bit, as any other run.

What the guarantee covers: the model's parameters after any number of these steps, and everything computed from
them alone (samples, scores of new data), at the (epsilon, delta) the accountant gives for q, sigma and the steps
taken. What it does not: the per-example losses and norms computed along the way (kept for monitoring, never
released), and the choice of hyperparameters tuned on the same data. A held-out set scored every epoch is scored
by the model alone (covered, as far as the training data go); its own rows are not protected by this run.
"""
import numpy as np

from minivae.privacy.per_example import check_per_example, clipped_gradient_sum


def poisson_batch(n, rate, rng):
    """The indices (sorted) of a Poisson-sampled batch of n examples: each one in it with probability ``rate``."""
    if not 0 < rate <= 1:
        raise ValueError(f"the sampling rate q = expected batch size / examples must lie in (0, 1], got {rate}")
    return np.flatnonzero(rng.random(n) < rate)


def steps_per_epoch(n, expected_batch_size):
    """N / L rounded, at least 1: the steps in which each example is seen once on average."""
    return max(1, int(round(n / expected_batch_size)))


def check_private_step(clip_norm, noise_multiplier, expected_batch_size):
    """One-line ValueErrors for settings DP-SGD cannot use."""
    if not (np.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"the clipping norm C must be a positive number, got {clip_norm!r}")
    if not (np.isfinite(noise_multiplier) and noise_multiplier >= 0):
        raise ValueError(f"the noise multiplier sigma must be a number >= 0 (0: clipping only, no privacy), got "
                         f"{noise_multiplier!r}")
    if not expected_batch_size > 0:
        raise ValueError(f"the expected batch size L must be positive, got {expected_batch_size!r}")


def noise_and_average(grads, clip_norm, noise_multiplier, expected_batch_size, rng):
    """G <- (G + N(0, sigma^2 C^2 I)) / L, in place, for the clipped sum G of a batch (a dict of arrays).

    The noise is drawn once per step, parameter by parameter in the dict's (fixed) order, from ``rng``; sigma = 0
    adds none (clipping only: no privacy). Returns grads.
    """
    check_private_step(clip_norm, noise_multiplier, expected_batch_size)
    std = noise_multiplier * clip_norm
    for g in grads.values():
        if std > 0:  # drawn in the gradient's own dtype (float32: half the time of float64 and no conversion)
            noise = rng.standard_normal(g.shape, dtype=g.dtype)
            noise *= std
            g += noise
        g /= expected_batch_size
    return grads


def private_step(model, optimizer, x, clip_norm, noise_multiplier, expected_batch_size, rng, eps=None, **options):
    """One DP-SGD step on the batch x (already Poisson-sampled; it may be empty): the formulas of the module
    docstring. options go to the model's loss (beta, target, iw_samples, condition; free bits are refused).

    Returns the ClippedGradients of ``per_example.clipped_gradient_sum`` (norms, losses and the batch's LossTerms:
    for monitoring only). The trainer runs the same three parts with its divergence guard between the first two.
    """
    check_private_step(clip_norm, noise_multiplier, expected_batch_size)
    check_per_example(model, **options)
    clipped = clipped_gradient_sum(model, x, clip_norm, rng, eps, **options)
    noise_and_average(model.grads, clip_norm, noise_multiplier, expected_batch_size, rng)
    optimizer.step(model.params, model.grads)
    return clipped
