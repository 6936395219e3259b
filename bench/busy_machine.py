"""Training throughput on a busy machine: minivae and PyTorch while another program keeps one core busy.

    python bench/busy_machine.py            # 784-400-20, batch 128: idle, then with one competing process
    python bench/busy_machine.py --quick    # the busy machine only, 3 repeats

Two BLAS threads halve a large matrix product on two idle cores; when another program keeps one of the two busy,
each product ends with one thread waiting for the other, which keeps losing its core, and two threads run several
times slower than one. minivae's commands count the free cores when they start (minivae/threads.py); this measures
what that choice is worth. The competitor is a Python loop that never sleeps (``while True: pass``), started before
the workers and stopped at the end; every library runs as a user would start it:

* "minivae-chosen": minivae with the count it chooses itself (no thread variable set; the worker prints it);
* "minivae" at 2 and at 1 thread, and, if installed, "torch-tuned" (PyTorch tuned for speed, bench/torch_vae.py) and
  "jax" (jitted JAX + optax, bench/jax_vae.py) at 2 and 1: 2 is what each uses here when nobody says otherwise.

The workers are those of bench/throughput.py (bench/runners.py), timed the same way: they take turns, a repeat's
throughput is the batch over its median step, the table shows the median over repeats, and each ratio is the median
over rounds of the paired times. The load average is printed beside the absolute numbers.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from throughput import Worker, jax_available, torch_available  # noqa: E402

from minivae.datasets import load_mnist_test_10k  # noqa: E402

CFG = (784, 400, 20)


def settings(peers):
    """(name, implementation, threads) of every worker; threads None: the worker chooses."""
    rows = [("minivae, chosen", "minivae-chosen", None), ("minivae, 2 threads", "minivae", 2),
            ("minivae, 1 thread", "minivae", 1)]
    for peer in peers:
        rows += [(f"{peer}, 2 threads", peer, 2), (f"{peer}, 1 thread", peer, 1)]
    return rows


def measure(rows, data_path, args):
    """Examples per second of every row (median over repeats) and its time over minivae-chosen's (paired)."""
    workers = []
    for _, impl, threads in rows:  # one after the other: the chosen count must not see the others setting up
        workers.append(Worker(impl, CFG, args.batch_size, threads, data_path, args.steps))
        workers[-1].receive()
    seconds = [[] for _ in workers]
    for r in range(args.repeats + 1):  # round 0: one more warm-up, discarded
        shift = r % len(workers)
        for i in list(range(shift, len(workers))) + list(range(shift)):
            time.sleep(args.pause)
            t = workers[i].ask("run")["step_median"]
            if r > 0:
                seconds[i].append(t)
    for w in workers:
        w.close()
    sec = np.array(seconds)
    return [(name, args.batch_size / np.median(s), np.median(s / sec[0])) for (name, _, _), s in zip(rows, sec)]


def table(title, results):
    lines = [f"### {title}", "", "| | examples/s | time / minivae-chosen |", "|---|---:|---:|"]
    lines += [f"| {name} | {eps:,.0f} | {ratio:.2f} |" for name, eps, ratio in results]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=64, help="training steps per repeat")
    p.add_argument("--pause", type=float, default=0.2, help="seconds between two repeats")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    p.add_argument("--no-jax", action="store_true", help="leave JAX out even if it is installed")
    p.add_argument("--quick", action="store_true", help="the busy machine only, 3 repeats")
    args = p.parse_args()
    if args.quick:
        args.repeats = 3
    peers = (["torch-tuned"] if torch_available() and not args.no_torch else []) + \
        (["jax"] if jax_available() and not args.no_jax else [])
    if not peers:
        print("neither PyTorch nor JAX is installed (or --no-torch --no-jax): minivae only", file=sys.stderr)
    rows = settings(peers)
    out = [f"784-400-20 VAE, batch {args.batch_size}, {os.cpu_count()} cores, {args.repeats} repeats of "
           f"{args.steps} steps", ""]
    with tempfile.TemporaryDirectory() as tmp:
        data = load_mnist_test_10k().x_train
        data_path = Path(tmp) / "train.npy"
        np.save(data_path, data[np.random.default_rng(0).permutation(len(data))])
        if not args.quick:
            print("measuring on the idle machine ...", file=sys.stderr, flush=True)
            load = os.getloadavg()[0]
            out += [table(f"Idle machine (load average {load:.2f} before)", measure(rows, data_path, args)), ""]
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(2.0)  # let it take its core before the workers count the free ones
            print("measuring with one competing CPU-bound process ...", file=sys.stderr, flush=True)
            results = measure(rows, data_path, args)
            load = os.getloadavg()[0]
        finally:
            competitor.kill()
            competitor.wait()
        out += [table(f"One competing CPU-bound process (load average {load:.2f} at the end)", results)]
    print("\n".join(out))


if __name__ == "__main__":
    main()
