"""Data-parallel training on MPI ranks against threads: examples/s, the cost of the Allreduce, and a paper estimate.

    python bench/distributed_scaling.py           # global batch 128 and 512, 3 rounds
    python bench/distributed_scaling.py --quick   # batch 128, 1 round

What is measured, on the 784-400-20 VAE (Bernoulli, Adam, float32) on the bundled MNIST (9,000 digits), with the
trainer's own step (``Trainer._train_step``: the shard's gradient, ONE Allreduce of the flat buffer of 653,304
float32 (2.6 MB: every gradient and the loss terms), the parameter checksum, Adam):

* examples/s of 1 rank x 1 BLAS thread, 1 rank x 2 threads, 2 ranks x 1 thread (``mpiexec -n 2``), side by side in
  rounds (each configuration once per round, in turn), at the same global batch: the median step over 48 steps;
* the Allreduce of the 653k-float buffer alone, 2 ranks, 200 repeats (median), and its share of the 2-rank step;
* Allreduces of several sizes (1k to 2M floats), fitted to the cost model of a ring Allreduce over p ranks,

      t(n) = 2 (p - 1) (alpha + n / (p beta))        n bytes; alpha the latency of one message, beta the bandwidth

  (for p = 2: t = 2 alpha + n / beta, a straight line in n: a least-squares fit of the relative error);
* on paper, for 8 to 64 ranks: the step = the 1-rank x 1-thread step / p (the compute of a shard, assuming it scales
  perfectly) + t(2.6 MB) with the fitted alpha and beta (ranks on one such machine, which has 2 cores: a model, not
  a measurement) and with an ASSUMED typical cluster network of 10 Gb/s (25 GbE), alpha = 20 us, beta = 1.25 GB/s.

Every worker is a fresh process with OPENBLAS_NUM_THREADS (and OMP, MKL, NUMBA) set before NumPy loads.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STEPS, WARMUP = 48, 4
SIZES = (1_000, 10_000, 100_000, 653_304, 2_000_000)  # floats per Allreduce, for the fit
NETWORK = {"alpha": 20e-6, "beta": 1.25e9}  # ASSUMED 10 Gb/s Ethernet: 20 us per message, 1.25 GB/s
CONFIGS = (("1 rank x 1 thread", 1, 1), ("1 rank x 2 threads", 1, 2), ("2 ranks x 1 thread", 2, 1))


def ring_time(n_bytes, p, alpha, beta):
    """t = 2 (p - 1) (alpha + n / (p beta)), seconds: the ring Allreduce of n bytes over p ranks."""
    return 2 * (p - 1) * (alpha + n_bytes / (p * beta))


def fit_ring(sizes_bytes, seconds):
    """alpha, beta from 2-rank Allreduce times: t = 2 alpha + n / beta, least squares on the relative error (weights
    1 / t, so that the small sizes, which carry alpha, count as much as the large ones)."""
    t = np.asarray(seconds, float)
    slope, intercept = np.polyfit(np.asarray(sizes_bytes, float), t, 1, w=1 / t)
    return intercept / 2, 1 / slope


# -- the worker: one configuration, under mpiexec or alone ------------------------------------------------------------

def worker(batch_size, collectives):
    sys.path.insert(0, str(ROOT))
    from minivae.datasets import load_dataset
    from minivae.distributed.mpi import SingleProcess, launched, world
    from minivae.models import VAE
    from minivae.training.trainer import TrainConfig, Trainer

    comm = world() if launched() else SingleProcess()
    x = load_dataset("mnist-test-10k").x_train.reshape(-1, 784).astype(np.float32)
    trainer = Trainer(VAE(784, latent_dim=20, hidden=(400,)), TrainConfig(batch_size=batch_size, quiet=True),
                      comm=comm)
    order = np.random.default_rng(0).permutation(len(x))
    times = []
    for s in range(WARMUP + STEPS):
        idx = order[(s * batch_size) % (len(x) - batch_size):][:batch_size]
        comm.barrier()
        t0 = time.perf_counter()
        trainer._train_step(x, None, idx)
        times.append(time.perf_counter() - t0)
    result = {"step": float(np.median(times[WARMUP:]))}
    if collectives and comm.size > 1:
        result["allreduce"] = {n: allreduce_seconds(comm, n, 200 if n <= 653_304 else 50) for n in SIZES}
    if comm.is_root:
        print(json.dumps(result))


def allreduce_seconds(comm, n, repeats):
    """Median time of comm.allreduce_sum of n float32, after a warm-up."""
    buffer = np.ones(n, dtype=np.float32)
    times = []
    for r in range(repeats + 5):
        comm.barrier()
        t0 = time.perf_counter()
        comm.allreduce_sum(buffer)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[5:]))


# -- the orchestrator ---------------------------------------------------------------------------------------------

def launch(ranks, threads, batch_size, collectives=False):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[name] = str(threads)
    command = [sys.executable, __file__, "--worker", "--batch-size", str(batch_size)] + ["--collectives"] * collectives
    if ranks > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks)] + command
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="global batch 128 only, 1 round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--collectives", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=128, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.batch_size, args.collectives)
    batches, rounds = ((128,), 1) if args.quick else ((128, 512), 3)
    steps = {(b, name): [] for b in batches for name, _, _ in CONFIGS}
    for _ in range(rounds):
        for b in batches:
            for name, ranks, threads in CONFIGS:
                steps[b, name].append(launch(ranks, threads, b)["step"])
    comm = launch(2, 1, 128, collectives=True)["allreduce"]
    print(f"load average {os.getloadavg()[0]:.2f}; {rounds} round(s) of {STEPS} steps, median step\n")
    print_throughput(batches, {k: float(np.median(v)) for k, v in steps.items()}, comm)
    print_model(comm, {k: float(np.median(v)) for k, v in steps.items()}, batches[-1])


def print_throughput(batches, step, comm):
    print("| global batch | " + " | ".join(f"{name} (ex/s)" for name, _, _ in CONFIGS)
          + " | 2 threads / 1 | 2 ranks / 1 | 2 ranks / 2 threads |")
    print("|---:|" + "---:|" * (len(CONFIGS) + 3))
    for b in batches:
        rate = [b / step[b, name] for name, _, _ in CONFIGS]
        print(f"| {b} | " + " | ".join(f"{r:,.0f}" for r in rate)
              + f" | {rate[1] / rate[0]:.2f} | {rate[2] / rate[0]:.2f} | {rate[2] / rate[1]:.2f} |")
    t = comm["653304"] if "653304" in comm else comm[653_304]
    print(f"\nthe Allreduce of the 653,304-float32 buffer (2.6 MB) alone, 2 ranks: {t * 1e3:.2f} ms (median of 200); "
          + ", ".join(f"{t / step[b, '2 ranks x 1 thread']:.0%} of the 2-rank step at batch {b}" for b in batches)
          + "\n")


def print_model(comm, step, batch):
    sizes = sorted(int(n) for n in comm)
    seconds = [comm[str(n)] if str(n) in comm else comm[n] for n in sizes]
    alpha, beta = fit_ring([4 * n for n in sizes], seconds)
    print("| floats | bytes | measured (ms) | fit 2 alpha + n / beta (ms) |\n|---:|---:|---:|---:|")
    for n, s in zip(sizes, seconds):
        print(f"| {n:,} | {4 * n:,} | {s * 1e3:.3f} | {ring_time(4 * n, 2, alpha, beta) * 1e3:.3f} |")
    print(f"\nfitted on this machine: alpha = {alpha * 1e6:.1f} us, beta = {beta / 1e9:.2f} GB/s. ASSUMED network "
          f"(not measured): alpha = {NETWORK['alpha'] * 1e6:.0f} us, beta = {NETWORK['beta'] / 1e9:.2f} GB/s "
          "(10 Gb/s)\n")
    compute = step[batch, "1 rank x 1 thread"]
    n_bytes = 4 * 653_304
    print(f"On paper, global batch {batch}: step = {compute * 1e3:.1f} ms (1 rank x 1 thread, measured) / p + ring "
          "Allreduce of 2.6 MB\n")
    print("| ranks p | Allreduce, fit (ms) | ex/s, fit | Allreduce, 10 Gb/s (ms) | ex/s, 10 Gb/s | speed-up, 10 Gb/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for p in (8, 16, 32, 64):
        local = ring_time(n_bytes, p, alpha, beta)
        network = ring_time(n_bytes, p, NETWORK["alpha"], NETWORK["beta"])
        print(f"| {p} | {local * 1e3:.2f} | {batch / (compute / p + local):,.0f} | {network * 1e3:.2f} | "
              f"{batch / (compute / p + network):,.0f} | {compute / (compute / p + network):.1f} |")


if __name__ == "__main__":
    main()
