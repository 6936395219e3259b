"""Data-parallel training: each rank computes the gradient of its shard of every global batch, one Allreduce sums.

Every rank holds the whole training set and runs the same trainer with the same seed, so it draws the same global
batch of B rows, the same binarization and corruption of it and the same noise eps for all B rows, exactly as a
single process would (the generator stays in step with the single-process run). Rank r then computes on its shard
only, the n_r rows ``shard(B, r, P)`` of P ranks (``minivae.distributed.mpi``):

    eps = noise for the B rows                        (B, L), or (B, K, L) with the IW bound: the single run's draw
    s_r = shard(B, r, P)                              contiguous rows, n_r = |s_r|,  sum_r n_r = B
    terms_r = model.loss_and_gradients(x[s_r], eps=eps[s_r], ...)     grads g_r: of the mean loss over the shard

Why the weights n_r / B: the batch loss is a mean over its rows, so

    loss = (1/B) sum_n l_n = sum_r (n_r / B) [ (1/n_r) sum_{n in s_r} l_n ] = sum_r (n_r / B) loss_r
    grad = sum_r (n_r / B) g_r                                                    (the same for each of the 3 terms)

and every rank packs (n_r / B) g_r and (n_r / B) (loss, reconstruction, kl)_r into ONE flat buffer of the model's
dtype, which ONE Allreduce sums in place:

    buffer = [ g_1.ravel() | g_2.ravel() | ... | g_P.ravel() | loss, reconstruction, kl | stop ]   (n_params + 4,)

(``stop``: 1 on a rank whose Ctrl-C arrived, so that all ranks stop after the same batch.) After it every rank holds
the global batch's gradient, bit for bit the same, and takes the same optimizer step. The result equals the
single-process run to float tolerance, not bit for bit: a sum over B rows is added in another order (shards, then
ranks), so float32 rounding (relative 1e-7 per step) differs.

Free bits
---------
The free-bits term sum_j max(lambda, KL_j) floors KL_j = (1/B) sum_n KL_nj, the global batch's mean KL of latent
dimension j, which is not a weighted sum of the shards' floored terms (max does not commute with the sum). But KL_j
itself is a sum over the shards:

    KL_j = (1/B) sum_r S_rj,    S_rj = sum_{n in s_r} KL_nj = n_r * kl_per_dimension(shard r)_j        (L,)

so each rank first runs its shard's encoder, a second Allreduce sums the L numbers S_rj (float64), and every rank
passes the global KL_j to ``loss_and_gradients(batch_kl=...)``. With it, rank r's gradient is the KL's on its shard
masked by the global [KL_j > lambda], and its term sum_j max(lambda, KL_j) is the global one, so the weighted sum
above holds again (sum_r n_r / B = 1). Cost: one more forward pass of the encoder on the shard, and one small
Allreduce. A KL_j within float rounding (1e-7 relative) of lambda may fall on the other side than in one process.

DP-SGD
------
Each rank clips and sums its shard of the Poisson batch (``clipped_gradient_sum``: a sum, so weight 1); the Allreduce
gives the global clipped sum G = sum_b c_b g_b; then the trainer adds the Gaussian noise ONCE, after the Allreduce,
from the shared generator (the same draw on every rank), and divides by the expected batch size. The sampling rate the
accountant sees is the global one, q = L / N: every rank draws the same Poisson batch of the N examples.

The parameters stay the same on every rank
-------------------------------------------
They start equal (the same seed) and take the same steps from the same reduced buffer, but a rank that diverged
(another library version, a bug) would train on silently. ``check_parameters`` computes a checksum of its
parameters, the float64 sums of p and of p^2 over every entry (one pass over the parameters, about 1 ms for the 653k
of the 784-400-20 VAE), and allgathers the two numbers of every rank (one small collective: tens of microseconds on
one machine); every ``check_every`` steps (default every step). Ranks whose checksums differ raise RanksDisagree, on
every rank at once (each sees the same allgathered list). Equal parameters give equal checksums; unequal ones almost
surely differ in one of the two sums.

Validation
----------
``shard_of_batch`` is also how the trainer evaluates: for each batch of the validation set every rank draws the
batch's noise (as one process does), scores its shard of the rows, and the three sums (loss, reconstruction, KL)
are allreduced; the divergence guard then decides on the global loss, so all ranks stop together.

What is supported: the MLP models VAE, ConditionalVAE and Autoencoder (``check_model``); the convolutional and
sequence models are refused.
"""
import numpy as np

from minivae.distributed.mpi import on_every_rank, shard
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import LossTerms
from minivae.models.cvae import ConditionalVAE
from minivae.models.vae import VAE
from minivae.nn.kl import kl_per_dimension
from minivae.privacy.per_example import clipped_gradient_sum

SUPPORTED_MODELS = (VAE, ConditionalVAE, Autoencoder)
N_EXTRA = 4  # loss, reconstruction, kl, stop: the slots after the gradients in the buffer


class RanksDisagree(RuntimeError):
    """The ranks of a data-parallel run hold different parameters (``DataParallel.check_parameters``)."""


def check_model(model):
    """Refuse, with one ValueError, a model that data-parallel training does not cover."""
    if type(model) not in SUPPORTED_MODELS:
        raise ValueError(f"{type(model).__name__} cannot be trained on several ranks (--distributed): data-parallel "
                         f"training covers the MLP models {', '.join(m.__name__ for m in SUPPORTED_MODELS)} "
                         "(--model vae, cvae or ae); train this one in one process (leave out --distributed)")


def draw_noise(model, n, rng, iw_samples=1):
    """The noise eps of a batch of n rows as the model's own step would draw it from rng: (n, L), or (n, K, L)
    with K = iw_samples > 1; None for a model without noise (the Autoencoder)."""
    if not model.probabilistic:
        return None
    return model._noise(n, rng, None, k=None if iw_samples == 1 else iw_samples)


def shard_of_batch(comm, n, *arrays):
    """This rank's rows of the arrays of a batch of n rows (each an array of n rows, or None): (n_r, *shards)."""
    rows = shard(n, comm.rank, comm.size)
    return (rows.stop - rows.start, *(None if a is None else a[rows] for a in arrays))


def evaluation_shard(comm, model, x, condition, rng):
    """This rank's rows of an evaluation batch x (n rows), its labels and its share of the batch's noise, drawn for
    all n rows from rng as ``model.elbo`` would draw them: (x_r, condition_r, eps_r). In one process: (x, condition,
    None), nothing drawn (elbo draws it)."""
    if comm.size == 1:
        return x, condition, None
    return shard_of_batch(comm, len(x), x, condition, draw_noise(model, len(x), rng))[1:]


def any_rank(comm, flag):
    """True on every rank if ``flag`` is True on any (one small Allreduce): to stop all ranks together."""
    return bool(comm.allreduce_sum(np.array([float(flag)]))[0] > 0)


def parameter_checksum(params):
    """(sum of p, sum of p^2) over every entry of every parameter, in float64: (2,).

    Both sums are NumPy's own pairwise sums, never BLAS: OpenBLAS's dot product f @ f splits a long vector among
    its threads and adds the parts in another order, so two ranks with the same parameters but another thread
    count would disagree in the last bit."""
    flat = [np.asarray(p, dtype=np.float64).ravel() for p in params.values()]
    return np.array([sum(float(f.sum()) for f in flat), sum(float(np.sum(f * f)) for f in flat)])


class DataParallel:
    """The sharded gradient step of one model on one communicator (module docstring).

    Parameters
    ----------
    model : a VAE, ConditionalVAE or Autoencoder (``check_model``)    comm : a Communicator (or SingleProcess)
    check_every : compare the ranks' parameter checksums every this many steps (``check_parameters``)
    """

    def __init__(self, model, comm, check_every=1):
        check_model(model)
        self.model, self.comm, self.check_every = model, comm, check_every
        self.layout = []  # (key, start, stop) of each gradient in the buffer
        start = 0
        for key, g in model.grads.items():
            if not g.flags.c_contiguous:
                raise ValueError(f"gradient {key} is not contiguous, so it cannot be unpacked in place")
            self.layout.append((key, start, start + g.size))
            start += g.size
        self.buffer = np.zeros(start + N_EXTRA, dtype=model.dtype)  # (n_params + 4,)
        self.stop_requested = False  # after a step: some rank asked to stop (Ctrl-C) before it

    def gradients(self, x, rng, *, private_clip=0.0, stop=False, beta, free_bits, target, iw_samples, condition):
        """The global batch x (B rows, the same on every rank) -> the global batch's gradient in ``model.grads``,
        identical on every rank, and its LossTerms (None for an empty batch).

        private_clip = C > 0: DP-SGD, the grads are the global clipped SUM (noise and averaging follow, once, in
        the trainer). stop : this rank's Ctrl-C; afterwards ``stop_requested`` says whether any rank's was set.
        """
        b = len(x)
        eps = draw_noise(self.model, b, rng, iw_samples)
        n_r, x_r, eps_r, target_r, condition_r = shard_of_batch(self.comm, b, x, eps, target, condition)
        options = dict(beta=beta, iw_samples=iw_samples, target=target_r, condition=condition_r)
        if private_clip > 0:
            terms = clipped_gradient_sum(self.model, x_r, private_clip, eps=eps_r, with_losses=False,
                                         free_bits=free_bits, **options).terms
            weight = 1.0  # a sum over the shard already
        else:
            if free_bits > 0:
                options["batch_kl"] = self._global_batch_kl(x_r, condition_r, b)
            terms = (self.model.loss_and_gradients(x_r, eps=eps_r, free_bits=free_bits, **options) if n_r
                     else None)
            weight = n_r / b if b else 0.0
        self._pack(weight, terms, n_r / b if b else 0.0, stop)
        self.comm.allreduce_sum(self.buffer)
        return self._unpack(b)

    def _global_batch_kl(self, x_r, condition_r, b):
        """KL_j of the global batch (L,) float64: the shards' sums S_rj, allreduced, over B (module docstring)."""
        sums = np.zeros(self.model.latent_dim)
        if len(x_r):
            mu, logvar, _ = self.model._encode(self.model._check_x(x_r), condition_r)
            sums += len(x_r) * kl_per_dimension(mu, logvar).astype(np.float64)
        return self.comm.allreduce_sum(sums) / b

    def _pack(self, grad_weight, terms, terms_weight, stop):
        """buffer <- [w g_1 | ... | w g_P | w' (loss, rec, kl) | stop]; zeros for a rank with no rows."""
        if grad_weight == 0:  # no rows on this rank: it contributes zeros (not 0 times a stale gradient)
            self.buffer[:-N_EXTRA] = 0
        else:
            for key, start, end in self.layout:
                g = self.model.grads[key].reshape(-1)
                np.multiply(g, self.buffer.dtype.type(grad_weight), out=self.buffer[start:end])
        values = (0.0, 0.0, 0.0) if terms is None else (terms.loss, terms.reconstruction, terms.kl)
        self.buffer[-N_EXTRA:] = [terms_weight * v for v in values] + [float(stop)]

    def _unpack(self, b):
        """model.grads <- their slices of the reduced buffer; the global LossTerms (None if B = 0)."""
        for key, start, end in self.layout:
            g = self.model.grads[key]
            g[...] = self.buffer[start:end].reshape(g.shape)
        loss, rec, kl, stop = (float(v) for v in self.buffer[-N_EXTRA:])
        self.stop_requested = stop > 0
        return LossTerms(loss=loss, reconstruction=rec, kl=kl) if b else None

    def check_parameters(self, step):
        """Every ``check_every`` steps: raise RanksDisagree on every rank if the ranks' parameters differ."""
        if step % self.check_every:
            return
        sums = self.comm.allgather(parameter_checksum(self.model.params).tolist())
        if any(s != sums[0] for s in sums):
            listed = "; ".join(f"rank {r}: {s[0]!r}, {s[1]!r}" for r, s in enumerate(sums))
            raise on_every_rank(RanksDisagree(
                f"after step {step} the ranks hold different parameters (checksums sum p, sum p^2: {listed}); every "
                "rank must run the same minivae, NumPy and data. Training stops"))
