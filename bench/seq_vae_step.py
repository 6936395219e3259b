"""One training step of the sequence VAE: minivae's ``SequenceVAE`` against the same model in PyTorch, side by side.

    python bench/seq_vae_step.py                    # every shape, 1 and 2 threads, 7 repeats (about 7 minutes)
    python bench/seq_vae_step.py --repeats 3        # quicker
    python bench/seq_vae_step.py --threads 2 --shapes words
    python bench/seq_vae_step.py --check-only       # only the check that both compute the same loss and gradients

One step, for both libraries, is the whole training step of the trainer: the loss and every gradient, then one Adam
update (lr 1e-3, torch's defaults otherwise). In minivae ``SequenceVAE.loss_and_gradients(ids, rng)`` and
``Adam.step``; in PyTorch the same model written with its layers (``TorchSequenceVAE`` below):

    nn.Embedding(V, E), shared by the encoder and the decoder
    encoder nn.GRU(E, H) over the padded ids; the state after each sequence's last real token (--torch-encoder:
        "gather" reads it from the outputs at step length - 1, "pack" runs a pack_padded_sequence and takes h_n)
    nn.Linear(H, 2L) -> [mu | logvar], logvar clamped to [-30, 20] as minivae does; z = mu + exp(logvar / 2) eps
    h0 = tanh(nn.Linear(L, H)(z)); decoder nn.GRU(E, H) from h0 on ids[:, :-1] (teacher forcing, padded, unpacked)
    nn.Linear(H, V) -> logits; cross-entropy summed over the real tokens (ignore_index=<pad>), mean over sequences
    KL(q(z | x) || N(0, I)) summed over the latent dimensions, mean over sequences; loss.backward(); Adam step

Each library runs in its fastest form found on this CPU. torch: padded GRUs (packing the encoder's input with
--torch-encoder pack measured 0-10% slower per step, packing both GRUs up to 45% slower at the word scale: torch's
packed GRU loops over the steps with a changing batch) and Adam(fused=True). minivae's GRU computes only the real
steps of a masked batch by itself (``minivae.nn.recurrent``), so it never runs the padding.

Both GRUs are the same variant: minivae implements PyTorch's form (``minivae.nn.recurrent.GRU``: gate blocks in the
order r, z, n; the reset gate multiplies h W_hn + b_hn, after the product; h = (1 - z) n + z h_prev), so torch gets
minivae's weights as they are, transposed. Before timing, the script checks that, in float64, from the same weights,
ids and noise, the two compute the same loss, the same gradient of every parameter and the same parameters after the
Adam step (relative errors printed; it stops if one is above 1e-10), and the same loss in float32 (rel. error below
1e-5). No token dropout (its draw would differ between the libraries; it changes which ids are looked up, not the
work) and no free bits.

Shapes (``SHAPES``): the names corpus (minivae's bundled census first names: V = 30, 4 to 13 tokens with <bos> and
<eos>, mean 8.0; a batch is N names drawn once at random), E = 32, L = 16, N in {64, 256}, H in {128, 256}; and a
word-level scale (V = 2,000, random ids, lengths uniform in 20..30, N = 64, E = 128, H = 256, L = 16). float32.

How it is timed (``bench/alternation.py``): each library and thread count runs in its own process, started with
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and NUMBA_NUM_THREADS set (and torch.set_num_threads /
numba.set_num_threads called), so each library reads them before it loads; both processes of a thread count build
every shape and warm it up. Then they take turns, one repeat each per shape, the one to go first alternating between
repeats. A repeat is ``--steps`` training steps on the same batch, each timed; its value is the median step. The
table shows steps per second from the median over repeats, and the ratio minivae / torch (speed: above 1, minivae is
faster) as the median over repeats of (torch's step / minivae's step) in the same round. The machine is shared:
quote the ratios.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alternation import run_worker, start_worker, stop, take_turns  # noqa: E402

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # as minivae.datasets.text

# name: vocabulary V, batch N, embedding E, hidden H, latent L, where the ids come from
SHAPES = {
    "names-64-128": dict(V=30, N=64, E=32, H=128, L=16, data="names"),
    "names-256-128": dict(V=30, N=256, E=32, H=128, L=16, data="names"),
    "names-64-256": dict(V=30, N=64, E=32, H=256, L=16, data="names"),
    "names-256-256": dict(V=30, N=256, E=32, H=256, L=16, data="names"),
    "words": dict(V=2000, N=64, E=128, H=256, L=16, data="words"),
}


def make_ids(shape, seed=0):
    """The batch (N, T) of ids: <bos> tokens <eos>, padded with <pad> at the end."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    rng = np.random.default_rng(seed)
    N = shape["N"]
    if shape["data"] == "names":
        from minivae.datasets.text import Vocabulary, census_first_names

        names = census_first_names()
        vocab = Vocabulary.build(names)
        assert len(vocab) == shape["V"], len(vocab)
        ids = vocab.encode([names[i] for i in rng.choice(len(names), N, replace=False)]).ids
        return ids[:, :(ids != PAD_ID).sum(axis=1).max()]
    lengths = rng.integers(20, 31, N)  # with <bos> and <eos>
    ids = np.full((N, lengths.max()), PAD_ID, dtype=np.int64)
    for n, length in enumerate(lengths):
        ids[n, 0], ids[n, length - 1] = BOS_ID, EOS_ID
        ids[n, 1:length - 1] = rng.integers(4, shape["V"], length - 2)
    return ids


# ----------------------------------------------------------------------------------------------------------------------
# The same model in PyTorch.
# ----------------------------------------------------------------------------------------------------------------------


def torch_model_class():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class TorchSequenceVAE(nn.Module):
        """minivae's SequenceVAE written with torch's layers (see the module docstring)."""

        def __init__(self, V, L, E, H, encoder="gather"):
            super().__init__()
            self.L, self.encoder_form = L, encoder
            self.embedding = nn.Embedding(V, E)
            self.encoder = nn.GRU(E, H, batch_first=True)
            self.to_gaussian = nn.Linear(H, 2 * L)
            self.to_state = nn.Linear(L, H)
            self.decoder = nn.GRU(E, H, batch_first=True)
            self.output = nn.Linear(H, V)

        def loss(self, ids, lengths, eps):
            """ids (N, T) int64, lengths (N,) int64 (CPU), eps (N, L) -> (loss, reconstruction, kl), scalars."""
            N = ids.shape[0]
            emb = self.embedding(ids)  # (N, T, E)
            if self.encoder_form == "pack":
                packed = nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
                h_last = self.encoder(packed)[1][0]  # (N, H)
            else:
                h_last = self.encoder(emb)[0][torch.arange(N), lengths - 1]  # (N, H): after the last real token
            mu, raw = self.to_gaussian(h_last).split(self.L, dim=1)
            logvar = raw.clamp(-30.0, 20.0)
            z = mu + torch.exp(0.5 * logvar) * eps
            h0 = torch.tanh(self.to_state(z))[None]  # (1, N, H)
            dec, _ = self.decoder(self.embedding(ids[:, :-1]), h0)  # (N, T - 1, H), teacher forcing
            logits = self.output(dec)  # (N, T - 1, V)
            rec = F.cross_entropy(logits.reshape(-1, logits.shape[2]), ids[:, 1:].reshape(-1), ignore_index=PAD_ID,
                                  reduction="sum") / N
            kl = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar)) / N
            return rec + kl, rec, kl

    return TorchSequenceVAE


# torch's parameter name -> (minivae's parameter name, transposed?)
PARAMETER_MAP = {"embedding.weight": ("embedding.W", False)}
for _gru in ("encoder", "decoder"):
    for _w in ("ih", "hh"):
        PARAMETER_MAP[f"{_gru}.weight_{_w}_l0"] = (f"{_gru}.W_{_w}", True)
        PARAMETER_MAP[f"{_gru}.bias_{_w}_l0"] = (f"{_gru}.b_{_w}", False)
for _lin in ("to_gaussian", "to_state", "output"):
    PARAMETER_MAP[f"{_lin}.weight"] = (f"{_lin}.W", True)
    PARAMETER_MAP[f"{_lin}.bias"] = (f"{_lin}.b", False)


def copy_weights(model, torch_model):
    """minivae's parameters into the torch model (torch keeps the weight matrices transposed, (out, in))."""
    import torch

    with torch.no_grad():
        for name, p in torch_model.named_parameters():
            ours, transposed = PARAMETER_MAP[name]
            value = model.params[ours].T if transposed else model.params[ours]
            p.copy_(torch.from_numpy(value.copy()))


def build(impl, shape, dtype_name="float32", encoder="gather"):
    """(step function, the minivae model or None, the torch model or None) for one shape."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from minivae import Adam, SequenceVAE

    ids = make_ids(shape)
    dtype = np.dtype(dtype_name)
    model = SequenceVAE(shape["V"], latent_dim=shape["L"], embed_dim=shape["E"], hidden_dim=shape["H"], seed=0,
                        dtype=dtype)
    if impl == "minivae":
        opt, rng = Adam(lr=1e-3), np.random.default_rng(1)

        def step():
            terms = model.loss_and_gradients(ids, rng)
            opt.step(model.params, model.grads)
            return terms.loss
        return step
    import torch

    tm = torch_model_class()(shape["V"], shape["L"], shape["E"], shape["H"], encoder=encoder)
    tm = tm.to(getattr(torch, dtype_name))
    copy_weights(model, tm)
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3, fused=True)
    ids_t = torch.from_numpy(ids)
    lengths = (ids_t != PAD_ID).sum(dim=1)
    gen = torch.Generator().manual_seed(1)

    def step():
        eps = torch.randn(shape["N"], shape["L"], generator=gen, dtype=tm.output.weight.dtype)
        loss = tm.loss(ids_t, lengths, eps)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


# ----------------------------------------------------------------------------------------------------------------------
# The check: the same loss, gradients and updated parameters from the same weights, ids and noise.
# ----------------------------------------------------------------------------------------------------------------------


def rel_error(a, b):
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)) + np.max(np.abs(b)), 1e-300))


def check_shape(shape, encoder):
    """Relative errors between the two libraries: float64 loss, worst gradient, worst parameter after one Adam step;
    and the float32 loss."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from minivae import Adam, SequenceVAE

    ids = make_ids(shape)
    ids_t = torch.from_numpy(ids)
    lengths = (ids_t != PAD_ID).sum(dim=1)
    out = {}
    for dtype in (np.float64, np.float32):
        model = SequenceVAE(shape["V"], latent_dim=shape["L"], embed_dim=shape["E"], hidden_dim=shape["H"], seed=0,
                            dtype=dtype)
        tm = torch_model_class()(shape["V"], shape["L"], shape["E"], shape["H"], encoder=encoder)
        tm = tm.to(torch.float64 if dtype is np.float64 else torch.float32)
        copy_weights(model, tm)
        eps = np.random.default_rng(2).standard_normal((shape["N"], shape["L"])).astype(dtype)
        terms = model.loss_and_gradients(ids, eps=eps)
        loss, rec, kl = tm.loss(ids_t, lengths, torch.from_numpy(eps))
        name = np.dtype(dtype).name
        out[f"loss {name}"] = rel_error(terms.loss, loss.item())
        if dtype is np.float32:
            continue
        out["reconstruction, kl"] = max(rel_error(terms.reconstruction, rec.item()), rel_error(terms.kl, kl.item()))
        loss.backward()
        params = dict(tm.named_parameters())
        grads = {n: rel_error(model.grads[PARAMETER_MAP[n][0]], p.grad.numpy().T if PARAMETER_MAP[n][1] else p.grad)
                 for n, p in params.items()}
        out["worst gradient"] = max(grads.values())
        Adam(lr=1e-3).step(model.params, model.grads)
        torch.optim.Adam(tm.parameters(), lr=1e-3).step()
        out["worst parameter after Adam"] = max(
            rel_error(model.params[PARAMETER_MAP[n][0]], p.detach().numpy().T if PARAMETER_MAP[n][1] else p.detach())
            for n, p in params.items())
    return out


def check(shapes, encoder):
    print("The same model? minivae against torch from the same weights, ids and noise (relative errors):")
    head = ["shape", "loss float64", "reconstruction, kl", "worst gradient", "worst parameter after Adam",
            "loss float32"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    worst = 0.0
    for name in shapes:
        r = check_shape(SHAPES[name], encoder)
        print(f"| {name} | " + " | ".join(f"{r[k]:.1e}" for k in head[1:]) + " |")
        worst = max(worst, r["loss float32"] / 1e-5, *(r[k] / 1e-10 for k in head[1:5]))
    print()
    if worst > 1:
        sys.exit("the two models do not compute the same thing: not timing them")


# ----------------------------------------------------------------------------------------------------------------------
# Workers: one per library and thread count; each builds every shape, then answers "run SHAPE" with the median step.
# ----------------------------------------------------------------------------------------------------------------------


def worker(args):
    run_worker(args.worker, lambda: {name: build(args.worker, SHAPES[name], encoder=args.torch_encoder)
                                     for name in args.shapes}, args.steps)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--torch-encoder", choices=["gather", "pack"], default="gather")
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    if subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode:
        sys.exit("this benchmark compares minivae with PyTorch, which is not installed; the CPU build: "
                 "pip install torch --index-url https://download.pytorch.org/whl/cpu")
    check(args.shapes, args.torch_encoder)
    if args.check_only:
        return
    load_before = os.getloadavg()[0]
    rows = []
    for threads in args.threads:
        worker_args = ["--steps", str(args.steps), "--torch-encoder", args.torch_encoder, "--shapes", *args.shapes]
        procs = {impl: start_worker(__file__, ["--worker", impl, *worker_args], threads)
                 for impl in ("minivae", "torch")}
        times = take_turns(procs, args.shapes, args.repeats)
        stop(procs.values())
        for s in args.shapes:
            ratio = median([t / m for m, t in zip(times["minivae", s], times["torch", s])])
            rows.append((s, threads, 1 / median(times["minivae", s]), 1 / median(times["torch", s]), ratio))

    print(f"One training step (loss, gradients, Adam) of the sequence VAE, float32, CPU; torch encoder: "
          f"{args.torch_encoder}. Median step of {args.steps}, median of {args.repeats} repeats. Load average "
          f"(1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}.")
    head = "| shape | V | N | T | E | H | L | threads | minivae steps/s | torch steps/s | minivae / torch |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for s, threads, mv, tv, ratio in rows:
        sh = SHAPES[s]
        T = make_ids(sh).shape[1]
        print(f"| {s} | {sh['V']} | {sh['N']} | {T} | {sh['E']} | {sh['H']} | {sh['L']} | {threads} | {mv:.1f} | "
              f"{tv:.1f} | {ratio:.2f} |")
    print("minivae / torch: the speed ratio, the median over repeats of torch's step time / minivae's in the same "
          "round (goal: at least 0.5, within 2x of torch; above 1: ahead).")


if __name__ == "__main__":
    main()
