"""The private-training options of ``train`` (DP-SGD), and what the commands that use a private model say about it.

    python -m minivae train --dp-epsilon 3 --dp-delta 1e-5 --max-grad-norm 1      # sigma found for 3 in --epochs
    python -m minivae train --noise-multiplier 1.1 --epochs 20                     # sigma given; epsilon reported
    python -m minivae train --noise-multiplier 1.1 --dp-epsilon 3 --epochs 100     # stops when 3 is spent

--batch-size is then the *expected* batch size L of Poisson sampling (minivae.privacy.dp_sgd). The settings are
checked against the data (delta < 1 / N, a budget for at least one step) before the first step, by
``minivae.privacy.budget.PrivateRun``, and recorded in the checkpoint like every other training option.
"""
from dataclasses import replace

from minivae.cli import options
from minivae.privacy.budget import PrivateRun

DELTA = 1e-5  # the default delta, Opacus's and the literature's for MNIST-sized data; refused when >= 1 / N
CLIP = 1.0  # the default clipping norm C of each example's gradient
# option -> the TrainConfig field it sets
FIELDS = dict(dp_epsilon="dp_epsilon", dp_delta="dp_delta", max_grad_norm="dp_clip_norm",
              noise_multiplier="dp_noise_multiplier")


def add_train_options(p):
    p.add_argument("--dp-epsilon", type=options.positive_float, default=None, metavar="EPS",
                   help="train with differential privacy (DP-SGD) within this epsilon: the noise is chosen to spend "
                        "it in --epochs, or, with --noise-multiplier, training stops once it is spent (default: not "
                        "private)")
    p.add_argument("--dp-delta", type=options.positive_float, default=None, metavar="DELTA",
                   help=f"the delta of the (epsilon, delta) guarantee, below 1 / N (default: {DELTA:g})")
    p.add_argument("--max-grad-norm", type=options.positive_float, default=None, metavar="C",
                   help=f"DP-SGD: clip each example's gradient to this norm (default: {CLIP:g})")
    p.add_argument("--noise-multiplier", type=options.positive_float, default=None, metavar="SIGMA",
                   help="DP-SGD: Gaussian noise of standard deviation SIGMA x C on each step's clipped sum (default: "
                        "the least that keeps --dp-epsilon)")


def is_private(args):
    """Whether the options ask for private training; --dp-delta or --max-grad-norm alone are refused."""
    if args.dp_epsilon is None and args.noise_multiplier is None:
        if args.dp_delta is not None or args.max_grad_norm is not None:
            raise ValueError("--dp-delta and --max-grad-norm set up private training, which --dp-epsilon EPS (or "
                             "--noise-multiplier SIGMA) turns on; give one of them")
        return False
    return True


def private_config(args, config, examples):
    """``config`` with the DP-SGD fields the options ask for, checked on the ``examples`` training examples."""
    clip = CLIP if args.max_grad_norm is None else args.max_grad_norm
    delta = DELTA if args.dp_delta is None else args.dp_delta
    if args.noise_multiplier is not None:
        run = PrivateRun(examples, config.batch_size, clip, args.noise_multiplier, delta, budget=args.dp_epsilon)
    else:
        run = PrivateRun.for_target(examples, config.batch_size, clip, delta, args.dp_epsilon, config.epochs)
    if config.free_bits or config.clip_norm:
        raise ValueError("--free-bits and --clip-norm cannot be used in private training: DP-SGD clips each "
                         "example's gradient (--max-grad-norm), and free bits tie each example to its batch")
    return replace(config, dp_clip_norm=run.clip_norm, dp_noise_multiplier=run.noise_multiplier, dp_delta=run.delta,
                   dp_epsilon=args.dp_epsilon or 0.0)


def changed_options(args, recorded):
    """[(option, recorded, given)] for the DP options given with --resume that differ from the run's record."""
    changes = []
    for option, field in FIELDS.items():
        given, old = getattr(args, option), getattr(recorded, field)
        if given is not None and given != old:
            changes.append((option, old or "not private", given))
    return changes


def describe(config):
    """'DP-SGD (clipping norm 1, noise multiplier 1.1, delta 1e-05, budget epsilon 3)', or '' for a run that is not."""
    if not config.private:
        return ""
    budget = f", budget epsilon {config.dp_epsilon:g}" if config.dp_epsilon else ""
    return (f"DP-SGD (clipping norm {config.dp_clip_norm:g}, noise multiplier {config.dp_noise_multiplier:.4g}, "
            f"delta {config.dp_delta:g}{budget})")


def privacy_line(ckpt, what):
    """What a command writing ``what`` from a private model says: its (epsilon, delta) and what they cover; None for
    a model trained without DP-SGD."""
    record = ckpt.extra.get("privacy")
    if record is None:
        return None
    try:
        spent = f"(epsilon {float(record['epsilon']):.3g}, delta {float(record['delta']):g}) after {int(record['steps'])}"
        covered, not_covered = str(record["covered"]), str(record["not_covered"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"the checkpoint's privacy record ({record!r:.80}) is damaged, so its epsilon is unknown; "
                         "train the model again") from None
    return (f"privacy: {what} come from a model trained with DP-SGD at {spent} steps. Covered: {covered}. Not "
            f"covered: {not_covered}")
