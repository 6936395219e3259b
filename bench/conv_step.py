"""One training step of the convolutional VAE: minivae's ``ConvVAE`` against the same network in PyTorch, side by side.

    python bench/conv_step.py                   # batch 32 and 128, 1 and 2 threads, 7 repeats (about 3 minutes)
    python bench/conv_step.py --repeats 3 --threads 2
    python bench/conv_step.py --check-only      # only the check that both compute the same loss and gradients
    python bench/conv_step.py --profile         # where minivae's step goes (cProfile, one thread)

One step, for both libraries, is the whole training step of the trainer: the loss and every gradient, then one Adam
update (lr 1e-3). In minivae ``ConvVAE.loss_and_gradients(x, rng)`` and ``Adam.step``; in PyTorch the same network
(``minivae.models.conv_vae``, 28 x 28 images, latent size 20, channels (32, 64)) written with its layers, whose
indices in the two nn.Sequential are those of minivae's Sequential, so the parameters map name for name:

    encoder  Unflatten, Conv2d(1, 32, 4, 2, 1), ReLU, Conv2d(32, 64, 4, 2, 1), ReLU, Flatten, Linear(3136, 40)
    decoder  Linear(20, 3136), ReLU, Unflatten, ConvTranspose2d(64, 32, 4, 2, 1), ReLU,
             ConvTranspose2d(32, 1, 4, 2, 1), Flatten
    loss     binary cross-entropy with logits summed over the pixels + KL(q(z | x) || N(0, I)), mean over the batch;
             logvar clamped to [-30, 20] as minivae does; loss.backward(); Adam(fused=True).step()

PyTorch is tuned as in the MLP benchmark (``bench/torch_vae.py``): BCE with logits and the fused Adam; its CPU
convolutions go through oneDNN (``torch.backends.mkldnn``, on by default, checked below). minivae's go through
im2col and BLAS (``minivae.nn.conv_kernels``). Before timing, the script checks that from the same weights, images
and noise the two compute the same loss, gradients and parameters after the Adam step in float64 (relative errors
printed; it stops if one is above 1e-10) and the same loss in float32 (below 1e-5).

"GEMM ceiling": the matrix products of the step alone, each as one 2-D product over the whole batch into
preallocated float32 arrays (for a convolution with F filters, K = C kh kw weights each and P output pixels per
image: W (F, K) @ cols (K, N P) forward, dout (F, N P) @ cols^T for the weights, W^T @ dout for the input, which the
first layer does not need; a Linear layer's three products; a transposed convolution's the same with the roles
exchanged). No im2col, no col2im, no layout changes: a step of minivae's form cannot be faster. "% of ceiling" is
the ceiling's time over the library's step time.

How it is timed (``bench/alternation.py``): one worker process per library and thread count, the thread variables
set before it starts; every worker builds and warms up every batch size, then they take turns, one repeat each per
batch size, the first one alternating between repeats. A repeat is ``--steps`` steps on the same batch, each timed;
its value is the median step. The table shows steps per second from the median over repeats, and minivae / torch is
the median over repeats of (torch's step / minivae's step) in the same round: above 1, minivae is faster.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the minivae of this checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alternation import run_worker, start_worker, stop, take_turns  # noqa: E402

LATENT, CHANNELS, IMPLS = 20, (32, 64), ("minivae", "torch", "gemm")


def images(n, dtype):
    """The first n images of the bundled MNIST test set, grey values in [0, 1], as rows (n, 784)."""
    from minivae.datasets import load_mnist_test_10k

    return load_mnist_test_10k().x_train[:n].astype(dtype)


def minivae_model(dtype):
    import numpy as np
    from minivae import ConvVAE

    return ConvVAE(latent_dim=LATENT, channels=CHANNELS, seed=0, dtype=np.dtype(dtype))


# ----------------------------------------------------------------------------------------------------------------------
# The same network in PyTorch.
# ----------------------------------------------------------------------------------------------------------------------


def torch_model(model):
    """minivae's ConvVAE as a torch module with the same weights (torch's Linear keeps W transposed, (out, in))."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    c1, c2 = CHANNELS
    conv = dict(kernel_size=4, stride=2, padding=1)

    class TorchConvVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, c1, **conv), nn.ReLU(),
                                         nn.Conv2d(c1, c2, **conv), nn.ReLU(), nn.Flatten(),
                                         nn.Linear(c2 * 49, 2 * LATENT))
            self.decoder = nn.Sequential(nn.Linear(LATENT, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
                                         nn.ConvTranspose2d(c2, c1, **conv), nn.ReLU(),
                                         nn.ConvTranspose2d(c1, 1, **conv), nn.Flatten())

        def loss(self, x, eps):
            """x (N, 784), eps (N, L) -> (loss, reconstruction, kl), scalars: means over the batch."""
            mu, raw = self.encoder(x).split(LATENT, dim=1)
            logvar = raw.clamp(-30.0, 20.0)
            logits = self.decoder(mu + torch.exp(0.5 * logvar) * eps)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar)) / len(x)
            return rec + kl, rec, kl

    dtype = torch.float64 if model.dtype.name == "float64" else torch.float32
    tm = TorchConvVAE().to(dtype)
    with torch.no_grad():
        for name, p in tm.named_parameters():
            p.copy_(torch.from_numpy(ours(model, name, model.params).copy()))
    return tm


def ours(model, torch_name, arrays):
    """minivae's array (from ``arrays``: model.params or model.grads) for torch's parameter called torch_name."""
    part, index, kind = torch_name.split(".")
    value = arrays[f"{part}.{index}.{'W' if kind == 'weight' else 'b'}"]
    return value.T if value.ndim == 2 else value  # Linear: (in, out) here, (out, in) in torch; convolutions alike


# ----------------------------------------------------------------------------------------------------------------------
# The check: the same loss, gradients and updated parameters from the same weights, images and noise.
# ----------------------------------------------------------------------------------------------------------------------


def rel_error(a, b):
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)) + np.max(np.abs(b)), 1e-300))


def check(n=16):
    import numpy as np
    import torch
    from minivae import Adam

    print(f"The same model? minivae against torch from the same weights, {n} images and noise (relative errors); "
          f"torch.backends.mkldnn available: {torch.backends.mkldnn.is_available()}, enabled: "
          f"{torch.backends.mkldnn.enabled}")
    r = {}
    for dtype in ("float64", "float32"):
        model, x = minivae_model(dtype), images(n, dtype)
        tm = torch_model(model)
        eps = np.random.default_rng(2).standard_normal((n, LATENT)).astype(dtype)
        terms = model.loss_and_gradients(x, eps=eps)
        loss, rec, kl = tm.loss(torch.from_numpy(x), torch.from_numpy(eps))
        r[f"loss {dtype}"] = rel_error(terms.loss, loss.item())
        if dtype == "float32":
            continue
        r["reconstruction, kl"] = max(rel_error(terms.reconstruction, rec.item()), rel_error(terms.kl, kl.item()))
        loss.backward()
        params = dict(tm.named_parameters())
        r["worst gradient"] = max(rel_error(ours(model, k, model.grads), p.grad) for k, p in params.items())
        Adam(lr=1e-3).step(model.params, model.grads)
        torch.optim.Adam(tm.parameters(), lr=1e-3).step()
        r["worst parameter after Adam"] = max(rel_error(ours(model, k, model.params), p.detach())
                                              for k, p in params.items())
    keys = ["loss float64", "reconstruction, kl", "worst gradient", "worst parameter after Adam", "loss float32"]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    print("| " + " | ".join(f"{r[k]:.1e}" for k in keys) + " |")
    print()
    if max(r["loss float32"] / 1e-5, *(r[k] / 1e-10 for k in keys[:4])) > 1:
        sys.exit("the two models do not compute the same thing: not timing them")


# ----------------------------------------------------------------------------------------------------------------------
# The steps: minivae's, torch's, and the GEMM ceiling.
# ----------------------------------------------------------------------------------------------------------------------


def gemm_shapes(model, n):
    """(rows, inner, cols) of every matrix product of one training step of ``model`` on a batch of n, each as one
    2-D product over the whole batch (see the module docstring); the first layer's input gradient is left out."""
    import numpy as np
    from minivae.nn.conv import Conv2D, ConvTranspose2D
    from minivae.nn.layers import Linear

    shapes, x = [], np.zeros((n, model.input_dim), model.dtype)
    first = True
    for layer in model.encoder.layers + model.decoder.layers:
        if layer is model.decoder.layers[0]:
            x = np.zeros((n, model.latent_dim), model.dtype)
        y = layer.forward(x)
        if isinstance(layer, Linear):
            a, b = layer.in_dim, layer.out_dim
            shapes += [(n, a, b), (a, n, b)] + ([] if first else [(n, b, a)])  # x W, x^T dout, dout W^T
        elif isinstance(layer, (Conv2D, ConvTranspose2D)):
            small = y if isinstance(layer, Conv2D) else x  # the side of the conv with F channels at stride 2
            f, k, cols = small.shape[1], (x if isinstance(layer, Conv2D) else y).shape[1] * layer.kernel ** 2, \
                n * small.shape[2] * small.shape[3]
            shapes += [(f, k, cols), (f, cols, k)] + ([] if first else [(k, f, cols)])
        first = first and not layer.params
        x = y
    return shapes


def build(impl, n):
    """A function running one training step (or, for "gemm", the step's products) on a batch of n images."""
    import numpy as np
    from minivae import Adam

    model, x = minivae_model("float32"), images(n, "float32")
    if impl == "minivae":
        opt, rng = Adam(lr=1e-3), np.random.default_rng(1)

        def step():
            model.loss_and_gradients(x, rng)
            opt.step(model.params, model.grads)
        return step
    if impl == "gemm":
        rng = np.random.default_rng(0)
        triples = [(rng.standard_normal((m, k), np.float32), rng.standard_normal((k, c), np.float32),
                    np.empty((m, c), np.float32)) for m, k, c in gemm_shapes(model, n)]

        def step():
            for a, b, out in triples:
                np.matmul(a, b, out=out)
        return step
    import torch

    tm = torch_model(model)
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3, fused=True)
    xt, gen = torch.from_numpy(x), torch.Generator().manual_seed(1)

    def step():
        loss = tm.loss(xt, torch.randn(n, LATENT, generator=gen))[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def worker(args):
    run_worker(args.worker, lambda: {str(n): build(args.worker, n) for n in args.batch}, args.steps)


def profile(n, steps=50):
    """cProfile of minivae's step at one thread: the functions that take the most time of their own, per step."""
    import cProfile
    import pstats

    os.environ["OMP_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    step = build("minivae", n)
    with threadpool_limits(1):
        for _ in range(5):
            step()
        prof = cProfile.Profile()
        prof.runcall(lambda: [step() for _ in range(steps)])
    stats = pstats.Stats(prof).stats
    rows = sorted(((tt / steps * 1e3, f"{Path(file).name}:{line} {name}") for (file, line, name), (_, _, tt, _, _)
                   in stats.items()), reverse=True)
    total = sum(ms for ms, _ in rows)
    print(f"minivae's ConvVAE step at batch {n}, one thread, cProfile ({steps} steps): {total:.2f} ms per step")
    print("| function | ms per step | share |")
    print("|---|---|---|")
    for ms, name in rows[:14]:
        print(f"| {name} | {ms:.2f} | {100 * ms / total:.0f}% |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--profile", action="store_true", help="profile minivae's step at the first --batch and stop")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.profile:
        return profile(args.batch[0])
    if subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode:
        sys.exit("this benchmark compares minivae with PyTorch, which is not installed; the CPU build: "
                 "pip install torch --index-url https://download.pytorch.org/whl/cpu")
    check()
    if args.check_only:
        return
    load_before = os.getloadavg()[0]
    names, rows = [str(n) for n in args.batch], []
    for threads in args.threads:
        procs = {impl: start_worker(__file__, ["--worker", impl, "--steps", str(args.steps), "--batch", *names],
                                    threads) for impl in IMPLS}
        times = take_turns(procs, names, args.repeats)
        stop(procs.values())
        for s in names:
            t = {impl: median(times[impl, s]) for impl in IMPLS}
            ratio = median([tt / m for m, tt in zip(times["minivae", s], times["torch", s])])
            rows.append((s, threads, int(s) / t["minivae"], int(s) / t["torch"], ratio,
                         100 * t["gemm"] / t["minivae"], 100 * t["gemm"] / t["torch"]))
    print(f"One training step (loss, gradients, Adam) of the ConvVAE (28 x 28, channels {CHANNELS}, latent {LATENT}), "
          f"float32, CPU. Median step of {args.steps}, median of {args.repeats} repeats. Load average (1 min) "
          f"before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}.")
    head = ("| batch | threads | minivae ex/s | torch ex/s | minivae / torch | minivae % of GEMM ceiling | "
            "torch % of GEMM ceiling |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for s, threads, mv, tv, ratio, mg, tg in rows:
        print(f"| {s} | {threads} | {mv:,.0f} | {tv:,.0f} | {ratio:.2f} | {mg:.0f}% | {tg:.0f}% |")
    print("minivae / torch: the speed ratio, the median over repeats of torch's step time / minivae's in the same "
          "round (goal: above 1; at least 0.67, within 1.5x of torch).")


if __name__ == "__main__":
    main()
