"""The GRU decoder of the sequence models at work: the ids it reads, and generating with it (greedy, temperature
sampling, beam search, homotopies).

The decoder is the one the sequence VAE trains with teacher forcing (``minivae.models.sequence_vae``) and the
language model without a z (``minivae.models.language_model``). Both read a batch of ids (N, T) as
``Vocabulary.encode`` makes them, <bos> first and padded with <pad> at the end (``check_token_ids``), and predict
each token from the ones before it (``teacher_forcing``). Generating, the decoder reads its own last token instead
of the data's: from a state h_0 and <bos>, each step is

    u_t = embed(y_{t-1})   or   [embed(y_{t-1}) | z]        the decoder's input (z_every_step: z at every step)
    h_t = GRU.step(u_t, h_{t-1})                            (N, H)
    log p_t = log softmax(h_t W_out + b_out)                 (N, V): log p(y_t = v | y_<t, z), as in token_nll
    y_t = a token chosen with these probabilities            until <eos>, or until max_length ids in all

<pad> and <bos> are never chosen (their log p_t is set to -inf after the softmax: they are never targets in
training, so the model gives them almost no probability anyway).

A sequence VAE starts from h_0 = tanh(z W_s + b_s), the language model from h_0 = 0 (no z). The rows that come out
are ids (N, T <= max_length): <bos> first, each row padded with <pad> after its <eos> (a row that reached max_length
without <eos> has none); ``Vocabulary.decode`` turns them into strings.

How the token is chosen:

* greedy (temperature 0): y_t = argmax log p_t, the most probable next token, one step at a time;
* sampling (temperature tau > 0): y_t ~ softmax(log p_t / tau); tau < 1 sharpens towards greedy, tau > 1 flattens;
* beam search: keeps the B most probable partial sequences instead of one (``beam_search``), and so usually finds
  sequences of a higher total log-probability than greedy, which commits to each token for good;
* homotopy (Bowman et al. 2016): decode the codes on the straight line between the posterior means of
  two sentences, to see how the decoder's sentences change along it.
"""
import numpy as np

from minivae.datasets.text import BOS_ID, EOS_ID, PAD_ID
from minivae.nn.losses import logsumexp
from minivae.validation import check_positive_int

METHODS = ("greedy", "beam")  # the decodings a homotopy can use


# -- the batch both models read ----------------------------------------------------------------------------------------

def check_token_ids(x, vocab_size, name="x"):
    """x as an (N, T) int64 array of ids in [0, V), T >= 2, each row <bos> first and padded only at its end."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids (Vocabulary.encode makes them), got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        raise ValueError(f"{name} must be token ids of shape (N, T) with N >= 1 and T >= 2 (<bos> and at least "
                         f"one more token), got shape {x.shape}")
    if x.min() < 0 or x.max() >= vocab_size:
        raise ValueError(f"{name} holds ids in [{x.min()}, {x.max()}], outside the vocabulary [0, {vocab_size}) of "
                         "this model; encode the text with the model's vocabulary")
    if (x[:, 0] != BOS_ID).any():
        n = int(np.argmax(x[:, 0] != BOS_ID))
        raise ValueError(f"every sequence must begin with <bos> (id {BOS_ID}); sequence {n} begins with id "
                         f"{int(x[n, 0])}")
    mask = x != PAD_ID
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        n = int(np.argmax((mask[:, 1:] & ~mask[:, :-1]).any(axis=1)))
        raise ValueError(f"sequence {n} has a token after a <pad>: pad sequences only at their end")
    return x.astype(np.int64, copy=False)


def teacher_forcing(x):
    """Decoder inputs x[:, :-1] (a copy, for token dropout), targets x[:, 1:] and the targets' mask, all (N, T - 1):
    <bos> x_1 ... x_{n-1} predicts x_1 ... x_n (x_n = <eos>), each step from the true tokens before it."""
    return x[:, :-1].copy(), x[:, 1:], x[:, 1:] != PAD_ID


# -- one step ----------------------------------------------------------------------------------------------------------

def decoder_input(emb, context):
    """The decoder's input: the embeddings emb (N, T', E) or one step's (N, E), with the context z (N, L) appended
    at every step, [emb | z] (N, T', E + L) or (N, E + L); with context None, emb itself."""
    if context is None:
        return emb
    context = context[:, None, :] if emb.ndim == 3 else context
    return np.concatenate([emb, np.broadcast_to(context, emb.shape[:-1] + context.shape[-1:])], axis=-1)


def next_token_log_probs(model, tokens, h, context=None):
    """One step of the decoder after the tokens (R,) in the states h (R, H): (log p (R, V) float64, next h (R, H)).

    log p[r, v] = log p(y_t = v | y_<t, z): the log-softmax of the logits h_t W_out + b_out over the whole
    vocabulary, the model's own probabilities (those ``token_nll`` scores), then -inf at <pad> and <bos> so that no
    decoding ever picks them. context : (R, L), z for a model that reads it at every step, or None. Nothing is kept
    for a backward pass (``GRU.step``).
    """
    h = model.decoder.step(decoder_input(model.embedding.params["W"][tokens], context), h)  # (R, H)
    logits = h @ model.output.params["W"] + model.output.params["b"]  # (R, V)
    log_p = logits - logsumexp(logits, axis=1)[:, None]  # float64
    log_p[:, [PAD_ID, BOS_ID]] = -np.inf
    return log_p, h


# -- greedy and sampling -----------------------------------------------------------------------------------------------

def decode_from_state(model, h0, context=None, max_length=50, temperature=0.0, rng=None):
    """Token ids (N, T <= max_length) from the decoder states h0 (N, H): greedy, or sampled with a temperature.

    temperature 0: greedy, y_t = argmax log p_t; tau > 0: y_t ~ softmax(log p_t / tau), proportional to p_t^(1/tau),
    drawn with rng (one uniform number per row and step, compared with the cumulative probabilities). context :
    (N, L) or None, as in ``next_token_log_probs``. The loop stops when every row has its <eos> or at max_length
    ids, <bos> included.
    """
    max_length = check_positive_int(max_length, "max_length")
    if not temperature >= 0 or (temperature > 0 and rng is None):
        raise ValueError(f"temperature must be 0 (greedy) or positive with an rng, got {temperature}")
    N = len(h0)
    ids = np.full((N, max_length), PAD_ID, dtype=np.int64)
    ids[:, 0] = BOS_ID
    done, h = np.zeros(N, dtype=bool), h0
    for t in range(1, max_length):
        log_p, h = next_token_log_probs(model, ids[:, t - 1], h, context)  # (N, V)
        if temperature == 0:
            token = log_p.argmax(axis=1)
        else:
            p = np.exp((log_p - log_p.max(axis=1, keepdims=True)) / temperature)
            p /= p.sum(axis=1, keepdims=True)
            token = (p.cumsum(axis=1) < rng.random((N, 1))).sum(axis=1).clip(max=log_p.shape[1] - 1)
        ids[:, t] = np.where(done, PAD_ID, token)
        done |= token == EOS_ID
        if done.all():
            return ids[:, :t + 1]
    return ids


# -- beam search -------------------------------------------------------------------------------------------------------

def beam_search(model, z, beam_width=5, max_length=50, length_penalty=0.0):
    """The most probable sequence for each code z (N, L) that a beam of width B finds: ids (N, T <= max_length).

    A hypothesis y = (<bos>, y_1, ..., y_n) scores the sum of its log-probabilities, log p(y | z) (what
    ``reconstruction_error`` gives for it, negated), optionally divided by a power of its length (Wu et al. 2016's
    idea, in its simplest form):

        score(y) = sum_{t=1..n} log p(y_t | y_<t, z)  /  n ** length_penalty

    length_penalty 0 is the plain log-probability, which favours short sequences (every token costs); 1 is the mean
    log-probability per token. At each step every one of the B live hypotheses of a row is extended by every token,
    and the 2B best extensions (by their sum of log-probabilities) are looked at in order: one that ends with <eos>
    among the first B is finished and kept, with its score; the best B that do not end go on. A row stops once it has
    B finished hypotheses, or at max_length ids (then its live hypotheses count as finished, without <eos>); its
    answer is its finished hypothesis of the highest score. With B = 1 this is greedy decoding (a test).

    Parameters
    ----------
    model : a SequenceVAE    z : (N, L) codes    beam_width : B    max_length : ids per row, <bos> included
    length_penalty : the power of the length in the score, >= 0

    Example
    -------
    >>> model = SequenceVAE(10, latent_dim=2, embed_dim=4, hidden_dim=8)
    >>> ids = beam_search(model, np.zeros((3, 2)), beam_width=4, max_length=12)    # (3, T <= 12)
    >>> bool((ids[:, 0] == BOS_ID).all()), ids.shape[1] <= 12
    (True, True)
    """
    z = model._check_z(z)
    beam_width = check_positive_int(beam_width, "beam_width")
    max_length = check_positive_int(max_length, "max_length")
    if not length_penalty >= 0:
        raise ValueError(f"length_penalty must be a number >= 0 (0: the sum of log-probabilities), got "
                         f"{length_penalty!r}")
    h0, context = model._decoder_start(z)
    return _beam(model, h0, context, beam_width, max_length, float(length_penalty))


def _beam(model, h0, context, B, max_length, length_penalty):
    """beam_search from decoder states h0 (N, H) and a context (N, L) or None; beam b of row n is row n B + b."""
    N = len(h0)
    h = np.repeat(h0, B, axis=0)  # (N B, H)
    context = None if context is None else np.repeat(context, B, axis=0)
    seqs = np.full((N, B, max_length), PAD_ID, dtype=np.int64)  # the live hypotheses
    seqs[:, :, 0] = BOS_ID
    sums = np.full((N, B), -np.inf)  # their sums of log-probabilities; one live beam at first, not B copies of it
    sums[:, 0] = 0.0
    finished = [[] for _ in range(N)]  # per row: (score, ids up to and with <eos>)
    for t in range(1, max_length):
        log_p, h = next_token_log_probs(model, seqs[:, :, t - 1].reshape(-1), h, context)  # (N B, V)
        V = log_p.shape[1]
        extended = (sums[:, :, None] + log_p.reshape(N, B, V)).reshape(N, B * V)  # (N, B V)
        best = np.argsort(-extended, axis=1, kind="stable")[:, :2 * B]  # (N, 2B), the best extensions first
        beam, token = np.divmod(best, V)
        best_sums = np.take_along_axis(extended, best, axis=1)
        ends = (token == EOS_ID) & (np.arange(2 * B) < B) & np.isfinite(best_sums)
        for n, j in np.argwhere(ends):
            if len(finished[n]) < B:
                ids = np.append(seqs[n, beam[n, j], :t], EOS_ID)
                finished[n].append((best_sums[n, j] / t ** length_penalty, ids))
        if all(len(f) >= B for f in finished):
            break
        keep = np.argsort(token == EOS_ID, axis=1, kind="stable")[:, :B]  # the first B that go on (at most B end)
        beam, token = np.take_along_axis(beam, keep, axis=1), np.take_along_axis(token, keep, axis=1)
        sums = np.take_along_axis(best_sums, keep, axis=1)
        seqs = np.take_along_axis(seqs, beam[:, :, None], axis=1)  # (N, B, max_length): each new beam's history
        seqs[:, :, t] = token
        h = h.reshape(N, B, -1)[np.arange(N)[:, None], beam].reshape(N * B, -1)
    else:  # max_length reached: the live hypotheses of unfinished rows are answers too, without <eos>
        for n in range(N):
            for b in np.flatnonzero(np.isfinite(sums[n])):
                if len(finished[n]) < B:
                    finished[n].append((sums[n, b] / (max_length - 1) ** length_penalty, seqs[n, b]))
    answers = [max(f, key=lambda hypothesis: hypothesis[0])[1] for f in finished]  # the first of equal scores
    return _padded(answers)


def _padded(rows):
    """1-D id rows of different lengths as one (N, T) array, padded with <pad> at the end."""
    ids = np.full((len(rows), max(len(r) for r in rows)), PAD_ID, dtype=np.int64)
    for n, row in enumerate(rows):
        ids[n, :len(row)] = row
    return ids


# -- homotopies --------------------------------------------------------------------------------------------------------

def homotopy(model, ids_a, ids_b, n=7, method="greedy", beam_width=5, max_length=None):
    """The sentences decoded along the line between the posterior means of two sentences (Bowman et al. 2016).

        z_i = (1 - t_i) mu(a) + t_i mu(b),      t_i = i / (n - 1),  i = 0 .. n - 1      (``apps.latent.lerp``'s path)

    and each z_i decoded greedily (method "greedy") or by ``beam_search`` (method "beam", with beam_width). Row 0
    decodes mu(a) and row n - 1 mu(b): for a well-trained model they reconstruct the two sentences, and the rows
    between show what changes, and in what order, on the way from one to the other.

    Parameters
    ----------
    model : a SequenceVAE    ids_a, ids_b : one sentence each, (T,) or (1, T) ids from ``Vocabulary.encode``
    n : points on the line, >= 2 (both ends included)    method : "greedy" or "beam"
    max_length : ids per decoded row (default: the longer sentence's T plus 10)

    Returns (n, T' <= max_length) ids, one row per point; ``Vocabulary.decode`` makes them strings.

    Example
    -------
    >>> a, b = vocab.encode(["the cat sat", "a dog ran far"]).ids                      # doctest: +SKIP
    >>> for line in vocab.decode(homotopy(model, a, b, n=5, method="beam")):           # doctest: +SKIP
    ...     print(line)                     # "the cat sat" first, "a dog ran far" last, once trained
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n, the number of points on the line, must be an integer >= 2 (the two ends), got {n!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    a, b = _one_sentence(ids_a, "ids_a"), _one_sentence(ids_b, "ids_b")
    mu_a, mu_b = model.encode(a)[0][0], model.encode(b)[0][0]  # (L,) each
    t = np.linspace(0.0, 1.0, n)[:, None]  # (n, 1)
    z = (1 - t) * mu_a + t * mu_b  # (n, L)
    z[-1] = mu_b  # exactly, without rounding
    max_length = max(a.shape[1], b.shape[1]) + 10 if max_length is None else max_length
    if method == "beam":
        return beam_search(model, z, beam_width, max_length)
    return model.decode(z, max_length)


def _one_sentence(ids, name):
    ids = np.asarray(ids)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim != 2 or ids.shape[0] != 1:
        raise ValueError(f"{name} must be the ids of one sentence, shape (T,) or (1, T), got shape {ids.shape}")
    return ids
