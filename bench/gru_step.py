"""Forward + backward of one GRU layer: minivae's GRU against torch.nn.GRU on the CPU, side by side.

    python bench/gru_step.py                 # N=64, T=20, D=64, H=256, float32, 1 and 2 threads (about 3 minutes)
    python bench/gru_step.py --repeats 3     # quicker
    python bench/gru_step.py --threads 2 --H 512
    python bench/gru_step.py --cell lstm     # the LSTM against torch.nn.LSTM

What one step is, for every implementation: the forward pass over a batch of N sequences of T steps (no mask,
h0 = 0) and the backward pass from a random upstream gradient on the outputs, computing dL/dx and the gradients of
all four weight arrays. For torch that is ``gru(x)`` and ``out.backward(dout)`` with x.requires_grad (its gradients
are cleared between steps, so nothing accumulates). "gemm" is a third row: only the matrix products of minivae's
step (T forward and T backward recurrent products into preallocated arrays, the input projection, dx and the two
weight gradients); no GRU written this way can be faster than its matrix products.

How it is timed: every implementation and thread count runs in its own process, started with OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and NUMBA_NUM_THREADS set (and torch.set_num_threads), so each library reads
them before it loads. After a warm-up the processes take turns, one repeat each, in a rotating order, so that a busy
moment of the machine hits all of them alike. A repeat is ``--steps`` steps, each timed; its value is the median
step. The table shows the median over repeats; a ratio is the median over rounds of (torch / minivae) within a round.
Without torch the torch rows are skipped.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


# ----------------------------------------------------------------------------------------------------------------------
# Workers: each builds its GRU and data, then answers "run" with the median step of one repeat.
# ----------------------------------------------------------------------------------------------------------------------


def make_step(impl, cell, N, T, D, H):
    """A function that runs one forward + backward step and returns (forward seconds, total seconds)."""
    import numpy as np

    G = {"gru": 3, "lstm": 4}[cell]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    dout = rng.standard_normal((N, T, H)).astype(np.float32)
    if impl == "minivae":
        sys.path.insert(0, str(ROOT))  # the minivae of this checkout
        from minivae.nn.recurrent import GRU, LSTM

        gru = {"gru": GRU, "lstm": LSTM}[cell](D, H, rng=rng)

        def step():
            t0 = time.perf_counter()
            gru.forward(x)
            t1 = time.perf_counter()
            gru.backward(dout)
            return t1 - t0, time.perf_counter() - t0
    elif impl == "gemm":
        W_ih = rng.standard_normal((D, G * H)).astype(np.float32)
        W_hh = rng.standard_normal((H, G * H)).astype(np.float32)
        W_hh_T, x2 = np.ascontiguousarray(W_hh.T), x.reshape(N * T, D)
        gi, states = np.empty((N * T, G * H), np.float32), np.zeros((T + 1, N, H), np.float32)
        gh, rec = np.empty((N, G * H), np.float32), np.empty((N, H), np.float32)
        f = rng.standard_normal((T * N, G * H)).astype(np.float32)
        dW_ih, dW_hh, dx = np.empty_like(W_ih), np.empty_like(W_hh), np.empty((N * T, D), np.float32)

        def step():
            t0 = time.perf_counter()
            np.matmul(x2, W_ih, out=gi)
            for t in range(T):
                np.matmul(states[t], W_hh, out=gh)
            t1 = time.perf_counter()
            for t in range(T):
                np.matmul(f[t * N:(t + 1) * N], W_hh_T, out=rec)
            np.matmul(x2.T, f, out=dW_ih)
            np.matmul(states[:T].reshape(T * N, H).T, f, out=dW_hh)
            np.matmul(f, W_ih.T, out=dx)
            return t1 - t0, time.perf_counter() - t0
    else:
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        gru = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](D, H, batch_first=True)
        xt, dt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

        def step():
            xt.grad = None
            gru.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            out, _ = gru(xt)
            t1 = time.perf_counter()
            out.backward(dt)
            return t1 - t0, time.perf_counter() - t0
    return step


def worker(args):
    import numpy as np

    step = make_step(args.worker, args.cell, args.N, args.T, args.D, args.H)
    for _ in range(5):
        step()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        times = np.array([step() for _ in range(args.steps)])
        print(json.dumps({"forward": float(np.median(times[:, 0])), "total": float(np.median(times[:, 1]))}),
              flush=True)


# ----------------------------------------------------------------------------------------------------------------------
# The orchestrator.
# ----------------------------------------------------------------------------------------------------------------------


def start(impl, threads, args):
    env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS})
    cmd = [sys.executable, __file__, "--worker", impl] + [f"--{k}={getattr(args, k)}" for k in ("cell", "N", "T", "D",
                                                                                                  "H", "steps")]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert json.loads(proc.stdout.readline())["ready"]
    return proc


def ask(proc):
    proc.stdin.write("run\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def torch_available():
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    p.add_argument("--N", type=int, default=64)
    p.add_argument("--T", type=int, default=20)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--H", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    impls = ["minivae", "gemm"] + (["torch"] if torch_available() else [])
    load_before = os.getloadavg()[0]
    rows = []
    for threads in args.threads:
        procs = {impl: start(impl, threads, args) for impl in impls}
        results = {impl: [] for impl in impls}
        for r in range(args.repeats):
            order = impls[r % len(impls):] + impls[:r % len(impls)]  # rotate who goes first
            for impl in order:
                results[impl].append(ask(procs[impl]))
                time.sleep(0.05)
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
        rows.append((threads, results))

    print(f"{args.cell.upper()} forward + backward, N={args.N} T={args.T} D={args.D} H={args.H}, float32, CPU. Median step of "
          f"{args.steps}, median of {args.repeats} repeats. Load average (1 min) before / after: {load_before:.1f} / "
          f"{os.getloadavg()[0]:.1f}.")
    if "torch" not in impls:
        print("torch is not installed: its columns are skipped.")
    head = "| threads | minivae ms (forward) | torch ms (forward) | torch / minivae | GEMM only ms | minivae / GEMM |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for threads, res in rows:
        ms = {impl: (1e3 * median([x["total"] for x in v]), 1e3 * median([x["forward"] for x in v]))
              for impl, v in res.items()}
        mv = f"{ms['minivae'][0]:.2f} ({ms['minivae'][1]:.2f})"
        if "torch" in res:
            ratio = median([t["total"] / m["total"] for t, m in zip(res["torch"], res["minivae"])])
            tv, rv = f"{ms['torch'][0]:.2f} ({ms['torch'][1]:.2f})", f"{ratio:.2f}"
        else:
            tv = rv = "-"
        share = median([m["total"] / g["total"] for m, g in zip(res["minivae"], res["gemm"])])
        print(f"| {threads} | {mv} | {tv} | {rv} | {ms['gemm'][0]:.2f} | {share:.2f} |")


if __name__ == "__main__":
    main()
