"""Where the time of one minivae training step goes: a profile of a few hundred steps.

    python bench/profile_step.py                       # 784-400-20, batch 128, 1 thread
    python bench/profile_step.py --threads 2 --batch 32

Uses pyinstrument if it is installed (``pip install pyinstrument``; not a dependency of minivae), else cProfile.
With one thread it measures CPU time, which another program on the machine does not inflate; with more, wall time.
"""
import argparse
import os
import sys
import time
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy and Numba load
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import numpy as np

    from minivae import VAE, Adam
    from minivae.datasets import load_mnist_test_10k

    x = load_mnist_test_10k().x_train
    model, opt, rng = VAE(784, args.latent, (args.hidden,)), Adam(lr=1e-3), np.random.default_rng(0)
    n_batches = len(x) // args.batch

    def train(steps):
        for i in range(steps):
            j = i % n_batches
            model.loss_and_gradients(x[j * args.batch:(j + 1) * args.batch], rng=rng)
            opt.step(model.params, model.grads)

    train(20)  # load the kernels, warm the caches
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        train(args.steps)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    else:
        import cProfile
        import pstats

        prof = cProfile.Profile(time.thread_time if args.threads == 1 else time.perf_counter)
        prof.enable()
        train(args.steps)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
