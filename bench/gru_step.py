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

How it is timed (bench/alternation.py): every implementation and thread count runs in its own process, started with
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and NUMBA_NUM_THREADS set (and torch.set_num_threads), so
each library reads them before it loads. After a warm-up the processes take turns, one repeat each, the first one
alternating, so that a busy moment of the machine hits all of them alike. A repeat is ``--steps`` calls, each timed,
of the forward pass alone (torch's recording its graph, as in training) and then of the whole step; its value is the
median call. The table shows the median over repeats; a ratio is the median over rounds of (torch / minivae) within
a round. Without torch the torch rows are skipped.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path
from statistics import median

from alternation import run_worker, start_worker, stop, take_turns

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------------------------------
# Workers: each builds its GRU and data, then answers "run forward" and "run step" (bench/alternation.py).
# ----------------------------------------------------------------------------------------------------------------------


def make_steps(impl, cell, N, T, D, H):
    """{"forward": the forward pass alone, "step": forward + backward}, as functions of no argument."""
    import numpy as np

    G = {"gru": 3, "lstm": 4}[cell]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    dout = rng.standard_normal((N, T, H)).astype(np.float32)
    if impl == "minivae":
        sys.path.insert(0, str(ROOT))  # the minivae of this checkout
        from minivae.nn.recurrent import GRU, LSTM

        gru = {"gru": GRU, "lstm": LSTM}[cell](D, H, rng=rng)

        def forward():
            gru.forward(x)

        def step():
            gru.forward(x)
            gru.backward(dout)
    elif impl == "gemm":
        W_ih = rng.standard_normal((D, G * H)).astype(np.float32)
        W_hh = rng.standard_normal((H, G * H)).astype(np.float32)
        W_hh_T, x2 = np.ascontiguousarray(W_hh.T), x.reshape(N * T, D)
        gi, states = np.empty((N * T, G * H), np.float32), np.zeros((T + 1, N, H), np.float32)
        gh, rec = np.empty((N, G * H), np.float32), np.empty((N, H), np.float32)
        f = rng.standard_normal((T * N, G * H)).astype(np.float32)
        dW_ih, dW_hh, dx = np.empty_like(W_ih), np.empty_like(W_hh), np.empty((N * T, D), np.float32)

        def forward():
            np.matmul(x2, W_ih, out=gi)
            for t in range(T):
                np.matmul(states[t], W_hh, out=gh)

        def step():
            forward()
            for t in range(T):
                np.matmul(f[t * N:(t + 1) * N], W_hh_T, out=rec)
            np.matmul(x2.T, f, out=dW_ih)
            np.matmul(states[:T].reshape(T * N, H).T, f, out=dW_hh)
            np.matmul(f, W_ih.T, out=dx)
    else:
        import torch

        gru = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](D, H, batch_first=True)
        xt, dt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

        def forward():  # as in training: autograd records the graph
            gru(xt)

        def step():
            xt.grad = None
            gru.zero_grad(set_to_none=True)
            out, _ = gru(xt)
            out.backward(dt)
    return {"forward": forward, "step": step}


# ----------------------------------------------------------------------------------------------------------------------
# The orchestrator.
# ----------------------------------------------------------------------------------------------------------------------


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
        return run_worker(args.worker, lambda: make_steps(args.worker, args.cell, args.N, args.T, args.D, args.H),
                          args.steps)

    impls = ["minivae", "gemm"] + (["torch"] if torch_available() else [])
    load_before = os.getloadavg()[0]
    rows = []
    for threads in args.threads:
        options = [f"--{k}={getattr(args, k)}" for k in ("cell", "N", "T", "D", "H", "steps")]
        procs = {impl: start_worker(__file__, ["--worker", impl, *options], threads) for impl in impls}
        rows.append((threads, take_turns(procs, ["forward", "step"], args.repeats)))
        stop(procs.values())

    print(f"{args.cell.upper()} forward + backward, N={args.N} T={args.T} D={args.D} H={args.H}, float32, CPU. "
          f"Median step of {args.steps}, median of {args.repeats} repeats. Load average (1 min) before / after: {load_before:.1f} / "
          f"{os.getloadavg()[0]:.1f}.")
    if "torch" not in impls:
        print("torch is not installed: its columns are skipped.")
    head = "| threads | minivae ms (forward) | torch ms (forward) | torch / minivae | GEMM only ms | minivae / GEMM |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for threads, times in rows:
        ms = {impl: (1e3 * median(times[impl, "step"]), 1e3 * median(times[impl, "forward"])) for impl in impls}
        mv = f"{ms['minivae'][0]:.2f} ({ms['minivae'][1]:.2f})"
        if "torch" in impls:
            ratio = median([t / m for t, m in zip(times["torch", "step"], times["minivae", "step"])])
            tv, rv = f"{ms['torch'][0]:.2f} ({ms['torch'][1]:.2f})", f"{ratio:.2f}"
        else:
            tv = rv = "-"
        share = median([m / g for m, g in zip(times["minivae", "step"], times["gemm", "step"])])
        print(f"| {threads} | {mv} | {tv} | {rv} | {ms['gemm'][0]:.2f} | {share:.2f} |")


if __name__ == "__main__":
    main()
