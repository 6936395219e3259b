"""One worker process of ``bench/throughput.py``: one implementation, one model size, one batch size, one thread count.

The orchestrator starts this script with the thread variables (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS, NUMBA_NUM_THREADS) already in its environment, so every library reads them before it loads, and
then drives it over stdin/stdout, one JSON line each way:

    worker -> {"ready": ...}                            after imports, model, data and a warm-up
    run    -> {"seconds": s, "step_median": m}          train for `steps` steps (batches of the data), each step
                                                        timed: the total and the median step, in seconds
    phases -> {"phase_ms": [[f, l, b, o], ...]}         `phase_steps` steps, each phase timed (forward, loss,
                                                        backward, optimizer), in milliseconds
    epoch  -> {"seconds": s}                            one whole epoch over the data as a user sees it: minivae
                                                        through ``Trainer.fit`` (the time it prints for the epoch),
                                                        the peers in a user's loop (a fresh permutation, each batch
                                                        gathered from it, the last one smaller)
    exit   -> {"max_rss_mib": m}                        peak resident memory of this process (see peak_memory_mib)

Implementations: "minivae", "minivae-chosen" (minivae with the thread count it chooses itself: started without
the thread variables), "numpy" (the plain-NumPy VAE of minivae/start_here.py), "torch-example" and "torch-tuned"
(torch_vae.py), "jax" (jax_vae.py), and "gemm": only the matrix products of minivae's training step, into
preallocated arrays (the ceiling: a step cannot be faster than its matrix products).

Run alone, it times the first training step of a fresh process instead (``--first-step``), which is how the
orchestrator measures start-up. With ``--no-warmup`` the worker is ready as soon as it is set up, so that its first
"epoch" is the first epoch of a fresh process.
"""
import argparse
import json
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

T_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the minivae of this checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402


def batches(data, batch_size):
    """Contiguous batches of the (already shuffled) data, cycled forever: views, no copies."""
    n = len(data) // batch_size * batch_size
    while True:
        for start in range(0, n, batch_size):
            yield data[start:start + batch_size]


# ----------------------------------------------------------------------------------------------------------------------
# One class per implementation: step(xb) runs one training step; phase_step(xb) runs one and returns the seconds of
# each phase. Every one builds the same architecture, D -> H -> 2L (mu | logvar), L -> H -> D, ReLU, Adam(1e-3)
# (PyTorch's example has two heads H -> L, for mu and for logvar, instead of one H -> 2L: the same arithmetic).
# ----------------------------------------------------------------------------------------------------------------------


class MinivaeRunner:
    def __init__(self, d, h, latent, batch_size, seed=0):
        from minivae import VAE, Adam
        from minivae.training.trainer import TrainConfig, Trainer

        self.model = VAE(d, latent_dim=latent, hidden=(h,), seed=seed)
        self.opt = Adam(lr=1e-3)
        self.rng = np.random.default_rng(seed)
        self.config = TrainConfig(batch_size=batch_size, lr=1e-3, seed=seed, quiet=True)
        self.trainer = Trainer(self.model, self.config, optimizer=self.opt)

    def epoch(self, data):
        """One more epoch of Trainer.fit (its own permutation, batches and bookkeeping); the seconds it records."""
        self.trainer.config = replace(self.config, epochs=self.trainer.epoch + 1)
        return self.trainer.fit(data)["seconds"][-1]

    def step(self, xb):
        terms = self.model.loss_and_gradients(xb, rng=self.rng)
        self.opt.step(self.model.params, self.model.grads)
        return terms.loss

    def phase_step(self, xb):
        """The pieces of VAE.loss_and_gradients, in its order, each timed."""
        from minivae.nn.kl import kl_term
        from minivae.nn.reparam import reparameterize

        m = self.model
        t0 = time.perf_counter()
        x = m._check_x(xb)
        eps = m._noise(len(x), self.rng, None)
        mu, logvar, inside = m._encode(x)
        out = m._decode(reparameterize(mu, logvar, eps))
        t1 = time.perf_counter()
        nll, dout = m.likelihood.nll(out, x)
        kl_loss, dmu_kl, dlogvar_kl, _ = kl_term(mu, logvar)
        float(nll.mean())
        t2 = time.perf_counter()
        m._backward(dout, dmu_kl, dlogvar_kl, eps, logvar, inside)
        t3 = time.perf_counter()
        self.opt.step(m.params, m.grads)
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3


class NumpyRunner:
    def __init__(self, d, h, latent, seed=0):
        from minivae.start_here import PlainNumpyVAE, init_params

        self.rng = np.random.default_rng(seed)
        self.vae = PlainNumpyVAE(init_params(d, h, latent, seed=seed))
        self.latent = latent

    def step(self, xb):
        return self.vae.step(xb, self.rng.standard_normal((len(xb), self.latent), dtype=np.float32))

    def phase_step(self, xb):
        t0 = time.perf_counter()
        self.vae.forward(xb, self.rng.standard_normal((len(xb), self.latent), dtype=np.float32))
        t1 = time.perf_counter()
        _, dlogits = self.vae.loss(xb)
        t2 = time.perf_counter()
        grads = self.vae.backward(dlogits)
        t3 = time.perf_counter()
        self.vae.adam(grads)
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3


class TorchRunner:
    def __init__(self, form, d, h, latent, seed=0):
        import torch
        from torch_vae import TorchTrainer

        self.torch = torch
        self.trainer = TorchTrainer(form, d, h, latent, seed)

    def prepare(self, data):
        return self.torch.from_numpy(data)  # shares the memory of the NumPy array

    def gather(self, data, idx):
        return data[self.torch.from_numpy(idx)]

    def step(self, xb):
        return self.trainer.step(xb).item()  # .item(): the loss as a float, as the example prints it

    def phase_step(self, xb):
        tr = self.trainer
        t0 = time.perf_counter()
        out = tr.forward(xb)
        t1 = time.perf_counter()
        loss = tr.loss(out, xb)
        t2 = time.perf_counter()
        tr.backward(loss)
        loss.item()
        t3 = time.perf_counter()
        tr.optimizer()
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3


class JaxRunner:
    """The jitted JAX + optax step of jax_vae.py; its phases cannot be timed apart (one compiled function)."""

    def __init__(self, d, h, latent, seed=0):
        import jax
        from jax_vae import JaxTrainer

        self.jax = jax
        self.trainer = JaxTrainer(d, h, latent, seed)

    def prepare(self, data):
        return self.jax.device_put(data)  # on the CPU device once, as a user's jitted loop would keep it

    def step(self, xb):
        return float(self.trainer.step(xb))  # float(): waits for the step, as .item() does for PyTorch

    def phase_step(self, xb):
        t0 = time.perf_counter()
        self.step(xb)
        return 0.0, 0.0, time.perf_counter() - t0, 0.0


class GemmRunner:
    """The 11 matrix products of minivae's step (4 forward, 4 dW, 3 dx: the first layer's dx is not needed)."""

    def __init__(self, d, h, latent, batch_size):
        rng = np.random.default_rng(0)

        def r(*shape):
            return rng.standard_normal(shape).astype(np.float32)

        n, two_l = batch_size, 2 * latent
        x, h1, head, z, h2, out = r(n, d), r(n, h), r(n, two_l), r(n, latent), r(n, h), r(n, d)
        W1, W2, W3, W4 = r(d, h), r(h, two_l), r(latent, h), r(h, d)
        self.products = [  # (a, b, out) with out = a @ b
            (x, W1, r(n, h)), (h1, W2, r(n, two_l)), (z, W3, r(n, h)), (h2, W4, r(n, d)),  # forward
            (h2.T, out, r(h, d)), (out, W4.T, r(n, h)),  # decoder layer 2: dW, dx
            (z.T, h2, r(latent, h)), (h2, W3.T, r(n, latent)),  # decoder layer 1: dW, dx
            (h1.T, head, r(h, two_l)), (head, W2.T, r(n, h)),  # encoder layer 2: dW, dx
            (x.T, h1, r(d, h)),  # encoder layer 1: dW only
        ]
        self.flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in self.products)

    def step(self, xb):
        for a, b, out in self.products:
            np.matmul(a, b, out=out)

    def phase_step(self, xb):
        t0 = time.perf_counter()
        self.step(xb)
        return 0.0, 0.0, time.perf_counter() - t0, 0.0


def make_runner(impl, d, h, latent, batch_size):
    if impl == "minivae":
        return MinivaeRunner(d, h, latent, batch_size)
    if impl == "minivae-chosen":  # the count the command line would choose now (minivae/threads.py), not --threads
        from minivae.threads import choose_threads, use_threads

        choice = choose_threads()
        use_threads(choice)
        print(f"minivae-chosen: {choice.threads} thread(s) ({choice.reason})", file=sys.stderr, flush=True)
        return MinivaeRunner(d, h, latent, batch_size)
    if impl == "numpy":
        return NumpyRunner(d, h, latent)
    if impl in ("torch-example", "torch-tuned"):
        return TorchRunner(impl.split("-")[1], d, h, latent)
    if impl == "jax":
        return JaxRunner(d, h, latent)
    if impl == "gemm":
        return GemmRunner(d, h, latent, batch_size)
    raise ValueError(f"unknown implementation {impl!r}")


# ----------------------------------------------------------------------------------------------------------------------
# The two modes.
# ----------------------------------------------------------------------------------------------------------------------


def peak_memory_mib():
    """The peak resident memory of this process, in MiB.

    On Linux, VmHWM of /proc/self/status. Not ru_maxrss there: Linux carries the parent's peak over into the child
    across fork and exec, so a worker started by a large orchestrator would report the orchestrator's memory.
    Elsewhere ru_maxrss (KiB on Linux and BSD, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def send(obj):
    print("@@" + json.dumps(obj), flush=True)


def set_peer_threads(impl, threads):
    """PyTorch's intra-op threads; XLA's, from XLA_FLAGS, which it reads once as jax loads (so: before), and, as
    XLA keeps more threads busy than its flags allow, the process pinned to that many cores."""
    if impl.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
    if impl == "jax":
        many = "true" if threads > 1 else "false"
        os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={many} intra_op_parallelism_threads={threads}"
        if threads < len(os.sched_getaffinity(0)):  # XLA's CPU runtime keeps more threads busy than the flags say
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])  # (measured: 1.8 cores at "1")


def serve(args):
    """The worker loop: set up, warm up, then answer the orchestrator's commands."""
    set_peer_threads(args.impl, args.threads)
    t_import = time.perf_counter()
    runner = make_runner(args.impl, args.input_dim, args.hidden, args.latent, args.batch_size)
    raw = np.load(args.data)
    data = runner.prepare(raw) if hasattr(runner, "prepare") else raw
    stream = batches(data, args.batch_size)
    steps = args.steps

    def run(n_steps):
        """Each step timed on its own: a repeat reports its total and its median step."""
        times = np.empty(n_steps)
        for i in range(n_steps):
            t0 = time.perf_counter()
            runner.step(next(stream))
            times[i] = time.perf_counter() - t0
        return {"seconds": float(times.sum()), "step_median": float(np.median(times))}

    def epoch():
        """One epoch: minivae's through its trainer, a peer's in the loop a user would write."""
        if hasattr(runner, "epoch"):
            return runner.epoch(raw)
        t0 = time.perf_counter()
        perm = epoch_rng.permutation(len(raw))
        gather = getattr(runner, "gather", lambda d, idx: d[idx])
        for start in range(0, len(raw), args.batch_size):
            runner.step(gather(data, perm[start:start + args.batch_size]))
        return time.perf_counter() - t0

    epoch_rng = np.random.default_rng(0)
    if not args.no_warmup:
        run(max(3, steps // 4))  # warm-up: compile or load kernels, grow BLAS buffers, fill the caches
    send({"ready": True, "setup_seconds": time.perf_counter() - t_import,
          "flops_per_example": getattr(runner, "flops", 0) / args.batch_size})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run":
            send(run(steps))
        elif cmd == "phases":
            times = [[1e3 * t for t in runner.phase_step(next(stream))] for _ in range(args.phase_steps)]
            send({"phase_ms": times})
        elif cmd == "epoch":  # minivae's trainer also says how long it took to load its kernels before epoch 1
            send({"seconds": epoch(), "kernel_seconds": getattr(getattr(runner, "trainer", None), "kernel_seconds",
                                                                None)})
        elif cmd == "exit":
            send({"max_rss_mib": peak_memory_mib()})
            return


class _HideSciPy:
    """An import hook that makes ``import scipy`` fail, as in an environment installed from requirements.txt.

    Numba imports SciPy's BLAS wrappers (for np.dot and np.linalg in jitted code) the first time it compiles or loads
    a kernel in a process, if SciPy is installed; minivae does not need SciPy, and this shows what that import costs.
    """

    def find_spec(self, name, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError("SciPy hidden by bench/runners.py --hide-scipy")
        return None


def first_step(args):
    """Import, load the data, build the model and run one training step; report the time since this process began
    running Python (the orchestrator adds the interpreter's own start-up by timing the whole process)."""
    if args.hide_scipy:
        sys.meta_path.insert(0, _HideSciPy())
    set_peer_threads(args.impl, args.threads)
    runner = make_runner(args.impl, args.input_dim, args.hidden, args.latent, args.batch_size)
    data = np.load(args.data)
    data = runner.prepare(data) if hasattr(runner, "prepare") else data
    runner.step(data[:args.batch_size])
    send({"first_step_seconds": time.perf_counter() - T_START})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--impl", required=True)
    p.add_argument("--data", required=True, help=".npy file of the shuffled training images, (N, D) float32")
    p.add_argument("--input-dim", type=int, default=784)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=64, help="training steps per timed repeat")
    p.add_argument("--phase-steps", type=int, default=8, help="steps per 'phases' command")
    p.add_argument("--no-warmup", action="store_true", help="ready without a warm-up (to time a first epoch)")
    p.add_argument("--first-step", action="store_true")
    p.add_argument("--hide-scipy", action="store_true", help="with --first-step: run as if SciPy were not installed")
    args = p.parse_args()
    first_step(args) if args.first_step else serve(args)


if __name__ == "__main__":
    main()
