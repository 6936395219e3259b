"""The GRU language model: the sequence VAE's decoder alone, started from h_0 = 0, with no latent variable.

It is the baseline a sentence VAE is measured against (as in Bowman et al. 2016): the same decoder, the same data,
the same budget. A VAE's decoder that predicts each token well enough from the ones before it may ignore z (posterior
collapse: KL = 0, and its ELBO is then the log-likelihood of a language model like this one); a VAE that uses z
(KL > 0) and comes close to the language model's NLL, or beats it, has learned a code without paying for it in
likelihood.

One training step, as ``SequenceLM.loss_and_gradients`` runs it (each line names the module that holds its formula):

    inputs, targets, mask = ids[:, :-1], ids[:, 1:], ids[:, 1:] != <pad>       teacher forcing (sequence_decoding)
    logits = SequenceLinear(decoder GRU(embed(inputs), h_0 = 0, mask))          minivae.nn.sequence, nn.recurrent
    nll, dlogits = token_nll(logits, targets, mask)                             minivae.nn.losses
    loss = mean_n(nll_n)                                                       nats per sequence
    backward: output -> decoder GRU -> embedding

Here the loss is not a bound: -log p(x) = nll is exact, p(x) = prod_t softmax(logits_t)[x_t] over the real tokens
after <bos> (<eos> included). The parameters are named as the sequence VAE's decoder ("embedding.W",
"decoder.W_ih", ..., "output.W", "output.b"): the same layers, without the encoder and the map from z to h_0.
"""
import numpy as np

from minivae.datasets.text import UNK_ID
from minivae.models.base import LossTerms, Model
from minivae.models.sequence_decoding import check_token_ids, decode_from_state, teacher_forcing
from minivae.nn.losses import token_nll
from minivae.nn.recurrent import GRU
from minivae.nn.sequence import Embedding, SequenceLinear
from minivae.validation import check_dtype, check_positive_int


class SequenceLM(Model):
    """A language model of token sequences: p(x) = prod_t p(x_t | x_<t), a GRU from h_0 = 0 over the embeddings.

    The batch x is the (N, T) integer array of ids that ``minivae.datasets.text.Vocabulary.encode`` makes (<bos>
    first, <pad> at the end). Loss: the mean over the N sequences of -log p(x_n), in nats, summed over the tokens.

    Parameters
    ----------
    vocab_size : V (``len(vocab)``)    embed_dim : E    hidden_dim : H    seed : initialisation seed
    dtype : float32 or float64

    It honours no training option: there is no KL term (beta, free_bits), no posterior (iw_samples), no other
    target and no condition; each is refused by name (``check_options``). It is not probabilistic in the contract's
    sense (no prior, no posterior): ``reconstruction_error`` gives its exact -log p(x), which the Trainer reports.

    Example
    -------
    >>> lm = SequenceLM(10, embed_dim=4, hidden_dim=8)
    >>> ids = np.array([[1, 5, 6, 2], [1, 7, 2, 0]])                 # <bos> . . <eos>, <bos> . <eos> <pad>
    >>> terms = lm.loss_and_gradients(ids)
    >>> terms.loss == terms.reconstruction and terms.kl == 0.0
    True
    >>> lm.sample(3, np.random.default_rng(0), max_length=6).shape[0]
    3
    """

    options = frozenset()
    probabilistic = False
    input_kind = "tokens"
    refusals = {**Model.refusals,
                "beta": "it has no latent variable and no KL term to weight (it is a language model)",
                "free_bits": "it has no latent variable and no KL term to put a floor under (it is a language model)",
                "iw_samples": "it has no latent variable to draw importance samples of: its log p(x) is exact",
                "target": "it models its input ids (a denoising target is not implemented for sequences)"}
    parts = ("embedding", "decoder", "output")

    def __init__(self, vocab_size, embed_dim=32, hidden_dim=64, seed=0, dtype=np.float32):
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        if self.vocab_size <= UNK_ID + 1:
            raise ValueError(f"vocab_size must count the four special tokens and at least one more, got {vocab_size}")
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.seed, self.dtype = seed, check_dtype(dtype)
        rng = np.random.default_rng(seed)
        V, E, H, dt = self.vocab_size, self.embed_dim, self.hidden_dim, self.dtype
        self.embedding = Embedding(V, E, rng=rng, dtype=dt)
        self.decoder = GRU(E, H, rng=rng, dtype=dt)
        self.output = SequenceLinear(H, V, rng=rng, dtype=dt)
        self._gather_params(self.parts)

    def config(self):
        return {"model": type(self).__name__, "vocab_size": self.vocab_size, "embed_dim": self.embed_dim,
                "hidden_dim": self.hidden_dim, "seed": self.seed, "dtype": self.dtype.name}

    def __repr__(self):
        return (f"SequenceLM(vocab_size={self.vocab_size}, embed_dim={self.embed_dim}, hidden_dim={self.hidden_dim}, "
                f"parameters={self.n_parameters:,}, dtype={self.dtype.name})")

    def _check_x(self, x, name="x"):
        """x as an (N, T) int64 array of ids, <bos> first, padded at the end (``sequence_decoding.check_token_ids``)."""
        return check_token_ids(x, self.vocab_size, name)

    def _nll(self, x):
        """-log p(x_n) of each checked sequence (N,) and the gradient of its mean with respect to the logits."""
        inputs, targets, mask = teacher_forcing(x)  # (N, T - 1) each
        out = self.decoder.forward(self.embedding.forward(inputs), mask=mask)  # h_0 = 0: (N, T - 1, H)
        return token_nll(self.output.forward(out), targets, mask)  # (N,), (N, T - 1, V)

    # -- the objective -------------------------------------------------------------------------------------------------

    def loss_and_gradients(self, x, rng=None, *, beta=1.0, free_bits=0.0, target=None, iw_samples=1, condition=None):
        """Mean -log p(x) of a batch of ids x (N, T) and every gradient written to ``self.grads``; returns LossTerms
        with loss = reconstruction = that mean and kl = 0.

        rng : not used (no noise, no dropout), accepted for the contract's one call. target : None, or x itself (as
        the Trainer passes a batch it did not corrupt). Every other option must keep its neutral value.
        """
        target = None if target is x else target  # x is its own target: no other is honoured
        self.check_options(beta=beta, free_bits=free_bits, target=target, iw_samples=iw_samples, condition=condition)
        nll, dlogits = self._nll(self._check_x(x))
        du, _ = self.decoder.backward(self.output.backward(dlogits))  # (N, T - 1, E); h_0 = 0 is no parameter
        self.embedding.backward(du)
        rec = float(nll.mean())
        return LossTerms(loss=rec, reconstruction=rec, kl=0.0)

    # -- what a trained model is used for ------------------------------------------------------------------------------

    def reconstruction_error(self, x, *, condition=None):
        """The exact -log p(x) of each sequence of ids x (N, T): (N,), in nats (what the Trainer evaluates)."""
        self.check_options(condition=condition)
        return self._nll(self._check_x(x))[0]

    def log_likelihood(self, x):
        """log p(x) of each sequence of ids x (N, T): (N,), in nats, exact (no bound: there is no latent variable)."""
        return -self.reconstruction_error(x)

    def sample(self, n, rng, *, temperature=1.0, max_length=50, condition=None):
        """n new sequences of ids from h_0 = 0, each token drawn from softmax(logits / temperature) (0: greedy, and
        then all n are the same), shape (n, T <= max_length); see ``sequence_decoding.decode_from_state``."""
        self.check_options(condition=condition)
        n = check_positive_int(n, "n")
        h0 = np.zeros((n, self.hidden_dim), self.dtype)
        return decode_from_state(self, h0, None, max_length, temperature, rng)
