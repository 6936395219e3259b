"""The sequence VAE (Bowman et al. 2016, "Generating Sentences from a Continuous Space"), with GRUs.

One training step, as ``SequenceVAE.loss_and_gradients`` runs it (each line names the module that holds its formula):

    mask = ids != <pad>;  inputs, targets = ids[:, :-1], ids[:, 1:]    teacher forcing: <bos> x_1 ... predicts x_1 ...
    inputs[drop] = <unk>                                              token dropout (never <bos>, <pad>, the targets)
    h_T = encoder GRU(embed(ids), mask).last_state                    minivae.nn.sequence, minivae.nn.recurrent
    mu, logvar = split(h_T W_q + b_q)                                 q(z | x) = N(mu, diag(exp(logvar)))
    z = reparameterize(mu, logvar, eps)                               minivae.nn.reparam
    h_0 = tanh(z W_s + b_s)                                           the decoder's initial state
    u_t = embed(inputs_t), or [embed(inputs_t) | z] (z_every_step)    the decoder's input (sequence_decoding)
    logits = SequenceLinear(decoder GRU(u, h_0, mask))                (N, T - 1, V)
    nll, dlogits = token_nll(logits, targets, mask[:, 1:])            minivae.nn.losses
    kl, dmu_kl, dlogvar_kl = kl_term(mu, logvar, free_bits)           minivae.nn.kl (summed over latent dimensions)
    loss = mean_n(nll_n) + beta * kl
    backward: output -> decoder GRU -> tanh -> z -> (mu, logvar) -> W_q -> encoder GRU -> the shared embedding
              (z_every_step: dz also sums, over the steps, the last L columns of the decoder input's gradient)

Token dropout (Bowman et al., "word dropout") replaces decoder *input* tokens by <unk> with probability p, so that
the decoder cannot predict everything from the previous token and must read z: a remedy for posterior collapse. It
replaces ids, not entries of the embedding vectors.

z at every step (an option; Bowman et al. 2016 consider it too): with ``z_every_step=True`` the decoder reads z at
every step, its input being [embed(token_t) | z] (width E + L), and not only through its initial state. z then
reaches the loss along T - 1 more paths, so its gradient is the sum of them:

    dz = to_state.backward(dh_0 * (1 - h_0^2)) + sum_t du_t[:, E:]        du_t = the decoder GRU's input gradient

Padded steps add nothing to the sum: the GRU passes no gradient to the inputs of masked steps.

Generating (greedy, with a temperature, beam search) and homotopies between two sentences are in
``minivae.models.sequence_decoding``; ``decode``, ``sample`` and ``reconstruct`` below call it.
"""
import numpy as np

from minivae.datasets.text import BOS_ID, PAD_ID, UNK_ID
from minivae.models.base import ELBOTerms, LossTerms, Model
from minivae.models.sequence_decoding import (check_token_ids, decode_from_state, decoder_input,
                                              teacher_forcing)
from minivae.nn.kl import kl_standard_normal, kl_term
from minivae.nn.layers import Linear
from minivae.nn.losses import token_nll
from minivae.nn.recurrent import GRU
from minivae.nn.reparam import reparameterize, reparameterize_backward, sample_eps
from minivae.nn.sequence import Embedding, SequenceLinear
from minivae.validation import as_float_array, check_dtype, check_positive_int


class SequenceVAE(Model):
    """A VAE of token sequences: GRU encoder q(z | x), prior N(0, I), GRU decoder p(x | z) started from z.

    The batch x is the (N, T) integer array of ids that ``minivae.datasets.text.Vocabulary.encode`` makes: every row
    begins with <bos> (id 1) and is padded at the end with <pad> (id 0); the mask is derived from it, x != <pad>.
    p(x | z) = prod_t softmax(logits_t)[x_t] over the real tokens after <bos> (<eos> included).

    Loss (nats, mean over the N sequences): mean_n [ -log p(x_n | z_n) + beta * KL(q(z | x_n) || N(0, I)) ], the KL
    summed over the L latent dimensions (free bits: ``minivae.nn.kl.kl_term``). logvar is clamped to [-30, 20] as in
    the VAE. The encoder and the decoder share one embedding.

    Parameters
    ----------
    vocab_size : V (``len(vocab)``)    latent_dim : L    embed_dim : E    hidden_dim : H (both GRUs)
    token_dropout : p in [0, 1), the probability that a decoder input token becomes <unk> in training
    z_every_step : also feed z to the decoder at every step, [embed(token) | z] (see the module docstring)
    seed : initialisation seed    dtype : float32 or float64

    It honours beta and free_bits; it refuses target, iw_samples > 1 and condition (``check_options``). It trains on
    the ELBO only, but its importance-weighted bound of log p(x) is evaluated as the VAE's
    (``minivae.apps.evaluation.importance_weighted_bound``).

    Example
    -------
    >>> model = SequenceVAE(10, latent_dim=2, embed_dim=4, hidden_dim=8)
    >>> ids = np.array([[1, 5, 6, 2], [1, 7, 2, 0]])                 # <bos> . . <eos>, <bos> . <eos> <pad>
    >>> terms = model.loss_and_gradients(ids, np.random.default_rng(0))
    >>> model.decode(np.zeros((1, 2)), max_length=5).shape[1] <= 5
    True
    """

    LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
    options = frozenset({"beta", "free_bits"})
    probabilistic = True
    input_kind = "tokens"
    refusals = {**Model.refusals,
                "target": "it reconstructs its input ids (a denoising target is not implemented for sequences)",
                "iw_samples": "it trains on the ELBO only (its importance-weighted bound is for evaluation: "
                              "minivae.apps.evaluation.importance_weighted_bound)"}
    parts = ("embedding", "encoder", "to_gaussian", "to_state", "decoder", "output")

    def __init__(self, vocab_size, latent_dim=16, embed_dim=32, hidden_dim=64, token_dropout=0.0, seed=0,
                 dtype=np.float32, z_every_step=False):
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        if self.vocab_size <= UNK_ID + 1:
            raise ValueError(f"vocab_size must count the four special tokens and at least one more, got {vocab_size}")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        if not 0.0 <= token_dropout < 1.0:
            raise ValueError(f"token_dropout is a probability in [0, 1), got {token_dropout}")
        self.token_dropout = float(token_dropout)
        if not isinstance(z_every_step, (bool, np.bool_)):
            raise ValueError(f"z_every_step must be True or False, got {z_every_step!r}")
        self.z_every_step = bool(z_every_step)
        self.seed, self.dtype = seed, check_dtype(dtype)
        rng = np.random.default_rng(seed)
        V, L, E, H, dt = self.vocab_size, self.latent_dim, self.embed_dim, self.hidden_dim, self.dtype
        self.embedding = Embedding(V, E, rng=rng, dtype=dt)
        self.encoder = GRU(E, H, rng=rng, dtype=dt)
        self.to_gaussian = Linear(H, 2 * L, init="glorot", rng=rng, dtype=dt)  # [mu | logvar]
        self.to_state = Linear(L, H, init="glorot", rng=rng, dtype=dt)  # then tanh
        self.decoder = GRU(E + L * self.z_every_step, H, rng=rng, dtype=dt)  # input [embed | z] or embed
        self.output = SequenceLinear(H, V, rng=rng, dtype=dt)
        self._gather_params(self.parts)

    def config(self):
        return {"model": type(self).__name__, "vocab_size": self.vocab_size, "latent_dim": self.latent_dim,
                "embed_dim": self.embed_dim, "hidden_dim": self.hidden_dim, "token_dropout": self.token_dropout,
                "z_every_step": self.z_every_step, "seed": self.seed, "dtype": self.dtype.name}

    def __repr__(self):
        return (f"SequenceVAE(vocab_size={self.vocab_size}, latent_dim={self.latent_dim}, embed_dim={self.embed_dim}"
                f", hidden_dim={self.hidden_dim}, token_dropout={self.token_dropout}, "
                f"z_every_step={self.z_every_step}, parameters={self.n_parameters:,}, dtype={self.dtype.name})")

    # -- input checks ---------------------------------------------------------------------------------------------------

    def _check_x(self, x, name="x"):
        """x as an (N, T) int64 array of ids, <bos> first, padded at the end (``sequence_decoding.check_token_ids``)."""
        return check_token_ids(x, self.vocab_size, name)

    def _check_drop(self, drop, shape):
        drop = np.asarray(drop)
        if drop.shape != shape or drop.dtype != bool:
            raise ValueError(f"drop must be a bool array of the decoder inputs' shape (N, T - 1) = {shape}, got "
                             f"{drop.dtype} {drop.shape}")
        return drop

    def _noise(self, n, rng, eps):
        if eps is None:
            if rng is None:
                raise ValueError("pass rng (a numpy Generator) to draw the noise eps, or eps itself")
            return sample_eps(rng, (n, self.latent_dim), self.dtype)
        eps = np.asarray(eps)
        if eps.shape != (n, self.latent_dim):
            raise ValueError(f"eps must have shape {(n, self.latent_dim)} (one row of noise per sequence), got "
                             f"{eps.shape}")
        return as_float_array(eps, "eps", self.dtype)

    # -- the two networks -----------------------------------------------------------------------------------------------

    def _encode(self, x, condition=None):
        """q(z | x) for checked ids x (N, T): mu (N, L), clamped logvar (N, L), the mask inside the clamp (N, L).
        (condition: always None, refused by the public methods; the argument is the one of the VAE's _encode.)"""
        self.encoder.forward(self.embedding.forward(x), mask=x != PAD_ID)  # (N, T, E) -> (N, T, H)
        h = self.to_gaussian.forward(self.encoder.last_state)  # (N, 2L): the state after each last real token
        L = self.latent_dim
        raw = h[:, L:]
        inside = (raw >= self.LOGVAR_MIN) & (raw <= self.LOGVAR_MAX)
        return np.ascontiguousarray(h[:, :L]), np.clip(raw, self.LOGVAR_MIN, self.LOGVAR_MAX), inside

    def _decoder_start(self, z):
        """What the decoder starts from, for codes z (N, L): h_0 = tanh(z W_s + b_s) (N, H), and the context it reads
        at every step (``sequence_decoding.decoder_input``): z itself if z_every_step, else None."""
        return np.tanh(self.to_state.forward(z)), (z if self.z_every_step else None)

    def _decode_logits(self, z, inputs, mask):
        """Teacher forcing: logits (N, T', V) of the next token after each input token (N, T'), from z (N, L)."""
        h0, context = self._decoder_start(z)
        u = decoder_input(self.embedding.forward(inputs), context)  # (N, T', E) or (N, T', E + L)
        out = self.decoder.forward(u, h0=h0, mask=mask)  # (N, T', H)
        return self.output.forward(out), h0

    def _nll_given_z(self, z, x, condition=None):
        """-log p(x_n | z_n) of each row (N,) and the gradient of its mean with respect to the logits (N, T - 1, V):
        teacher forcing from codes z (N, L) on checked ids x (N, T), no token dropout (``token_nll``)."""
        inputs, targets, mask = teacher_forcing(x)
        return token_nll(self._decode_logits(z, inputs, mask)[0], targets, mask)

    def _token_drop(self, inputs, rng, drop):
        """inputs with the dropped tokens replaced by <unk>; drop (N, T - 1) bool, drawn from rng if None."""
        if drop is None:
            if self.token_dropout == 0.0:
                return inputs
            if rng is None:
                raise ValueError("token dropout draws from rng: pass rng, or drop= the (N, T - 1) bool mask")
            drop = rng.random(inputs.shape) < self.token_dropout
        drop = self._check_drop(drop, inputs.shape) & (inputs != BOS_ID) & (inputs != PAD_ID)
        inputs[drop] = UNK_ID
        return inputs

    # -- the objective --------------------------------------------------------------------------------------------------

    def loss_and_gradients(self, x, rng=None, *, eps=None, drop=None, beta=1.0, free_bits=0.0, target=None,
                           iw_samples=1, condition=None):
        """Negative ELBO of a batch of ids x (N, T) and every gradient written to ``self.grads``; returns LossTerms.

        rng : Generator for eps (drawn first) and the token dropout;  eps : (N, L) to fix the noise;  drop : (N, T - 1)
        bool, the decoder inputs to replace by <unk> (fixes the dropout, as eps fixes the noise; <bos> and <pad> are
        never replaced). Without rng and drop there is no dropout only if ``token_dropout`` is 0. target : None, or x
        itself (as the Trainer passes a batch it did not corrupt); any other target is refused.
        """
        target = None if target is x else target  # x is its own target: no other is honoured
        self.check_options(beta=beta, free_bits=free_bits, target=target, iw_samples=iw_samples, condition=condition)
        x = self._check_x(x)
        eps = self._noise(len(x), rng, eps)
        inputs, targets, mask = teacher_forcing(x)
        inputs = self._token_drop(inputs, rng, drop)
        # forward
        mu, logvar, inside = self._encode(x)  # (N, L) each
        enc_ids = self.embedding.ids
        z = reparameterize(mu, logvar, eps)  # (N, L)
        logits, h0 = self._decode_logits(z, inputs, mask)  # (N, T - 1, V), (N, H)
        nll, dlogits = token_nll(logits, targets, mask)  # (N,), d mean(nll) / d logits
        kl_loss, dmu_kl, dlogvar_kl, kl = kl_term(mu, logvar, free_bits)
        # backward: fills self.grads
        du, dh0 = self.decoder.backward(self.output.backward(dlogits))  # (N, T - 1, E [+ L]), (N, H)
        dz = self.to_state.backward(dh0 * (1 - h0 * h0))  # tanh' = 1 - tanh^2
        E = self.embed_dim
        if self.z_every_step:
            dz += du[:, :, E:].sum(axis=1)  # z was read at every step: the sum over the steps
        d_dec_emb = du[:, :, :E]
        dmu, dlogvar = reparameterize_backward(dz, logvar, eps)
        dmu += beta * dmu_kl
        dlogvar += beta * dlogvar_kl
        dlogvar *= inside  # the clamp passes no gradient outside its bounds
        dh_last = self.to_gaussian.backward(np.concatenate([dmu, dlogvar], axis=1))  # (N, H)
        d_enc_emb, _ = self.encoder.backward(None, dh_last=dh_last)  # (N, T, E)
        self.embedding.backward(d_dec_emb)  # the decoder's lookup ran last: the layer holds its ids
        dec_grad = self.embedding.grads["W"].copy()
        self.embedding.ids = enc_ids  # then the encoder's lookup, with the ids it read
        self.embedding.backward(d_enc_emb)
        self.embedding.grads["W"] += dec_grad  # the shared table: the sum of both uses
        rec = float(nll.mean())
        return LossTerms(loss=rec + beta * kl_loss, reconstruction=rec, kl=float(kl.mean()))

    # -- what a trained model is used for -------------------------------------------------------------------------------

    def encode(self, x, *, condition=None):
        """Parameters of q(z | x) for ids x (N, T): mu (N, L) and logvar (N, L), logvar = log sigma^2."""
        self.check_options(condition=condition)
        mu, logvar, _ = self._encode(self._check_x(x))
        return mu, logvar

    def decode(self, z, max_length=50, *, temperature=0.0, rng=None, condition=None):
        """Token ids (N, T <= max_length) from codes z (N, L): <bos>, then one token per step until <eos>.

        temperature 0: greedy (the most probable token); t > 0: sampled from softmax(logits / t), with rng
        (``sequence_decoding.decode_from_state``; beam search is ``sequence_decoding.beam_search``). The rows are
        padded with <pad> after their <eos>; ``Vocabulary.decode`` turns them into strings.
        """
        self.check_options(condition=condition)
        return decode_from_state(self, *self._decoder_start(self._check_z(z)), max_length, temperature, rng)

    def sample(self, n, rng, *, temperature=1.0, max_length=50, condition=None):
        """n new sequences of ids: z ~ N(0, I), decoded with the temperature (0: greedy), shape (n, T <= max_length)."""
        n = check_positive_int(n, "n")
        z = sample_eps(rng, (n, self.latent_dim), self.dtype)
        return self.decode(z, max_length, temperature=temperature, rng=rng, condition=condition)

    def reconstruct(self, x, max_length=None, *, condition=None):
        """Greedy decoding of z = mu(x): ids (N, T' <= max_length, default the T of x plus 10)."""
        mu, _ = self.encode(x, condition=condition)
        return self.decode(mu, np.shape(x)[1] + 10 if max_length is None else max_length)

    def reconstruction_error(self, x, *, condition=None):
        """-log p(x | z = mu(x)) per sequence (N,), in nats, without noise or dropout."""
        self.check_options(condition=condition)
        x = self._check_x(x)
        return self._nll_given_z(self._encode(x)[0], x)[0]

    def elbo(self, x, rng=None, eps=None, *, condition=None):
        """Per-sequence ELBO and its two terms (ELBOTerms), one sample of z each, no token dropout.

        Without rng or eps the noise comes from np.random.default_rng(0), so that repeated evaluations agree.
        """
        self.check_options(condition=condition)
        x = self._check_x(x)
        if rng is None and eps is None:
            rng = np.random.default_rng(0)
        eps = self._noise(len(x), rng, eps)
        mu, logvar, _ = self._encode(x)
        nll = self._nll_given_z(reparameterize(mu, logvar, eps), x)[0]
        kl = kl_standard_normal(mu, logvar)[0]
        return ELBOTerms(elbo=-(nll + kl), reconstruction=nll, kl=kl)
