"""The cost of per-example clipping: one clipped step of DP-SGD against one normal training step.

    python bench/dp_step.py                      # 784-400-20, batch 256, float32, 1 thread
    python bench/dp_step.py --batch 64 --iw 5

Times, on the bundled MNIST digits, in turns (one of each per round, so that a busy moment of the machine hits all
alike), the median over the rounds of:

    normal      model.loss_and_gradients(x, rng)                      what the trainer runs
    norms       per_example_gradient_norms(model, x, rng)             the normal step + the row norms
    clipped     clipped_gradient_sum(model, x, C, rng)                + the reweighted A^T (Delta c), + the losses
    clipped, no losses  clipped_gradient_sum(..., with_losses=False)  without the per-example losses' forward pass
    naive       per_example_gradients(model, x, rng)                  N copies of every gradient (the teaching path)
    noise       noise_and_average(grads, C, sigma, L, rng)            one Gaussian number per parameter, then / L

No optimizer step: it is the same work with or without privacy. A DP-SGD step is "clipped, no losses" + "noise"
(the trainer does not compute the per-example losses).
"""
import argparse
import os
import sys
import time
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--iw", type=int, default=1, help="importance samples K (1: the ELBO)")
    p.add_argument("--rounds", type=int, default=40)
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy and Numba load
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import numpy as np

    from minivae import VAE
    from minivae.datasets import load_mnist_test_10k
    from minivae.privacy import per_example
    from minivae.privacy.dp_sgd import noise_and_average

    x = load_mnist_test_10k().x_train[:args.batch]
    vae = VAE(784, latent_dim=args.latent, hidden=(args.hidden,), seed=0)
    rng = np.random.default_rng(0)
    options = {"iw_samples": args.iw}

    steps = {
        "normal": lambda: vae.loss_and_gradients(x, rng, **options),
        "norms": lambda: per_example.per_example_gradient_norms(vae, x, rng, **options),
        "clipped": lambda: per_example.clipped_gradient_sum(vae, x, 1.0, rng, **options),
        "clipped, no losses": lambda: per_example.clipped_gradient_sum(vae, x, 1.0, rng, with_losses=False,
                                                                       **options),
        "naive": lambda: per_example.per_example_gradients(vae, x, rng, **options),
        "noise": lambda: noise_and_average(vae.grads, 1.0, 1.0, args.batch, rng),
    }
    for step in steps.values():  # warm-up: the Numba kernels compile, the caches fill
        step(), step()
    times = {name: [] for name in steps}
    for r in range(args.rounds):
        names = list(steps)[r % len(steps):] + list(steps)[:r % len(steps)]  # a rotating order
        for name in names:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    normal = np.median(times["normal"])
    print(f"VAE 784-{args.hidden}-{args.latent}, batch {args.batch}, K = {args.iw}, float32, {args.threads} thread(s), "
          f"median of {args.rounds} rounds")
    for name, ts in times.items():
        print(f"  {name:20s} {1e3 * np.median(ts):8.2f} ms   {np.median(ts) / normal:5.2f} x normal")


if __name__ == "__main__":
    main()
