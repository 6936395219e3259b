"""The command line for text: ``train --model seq-vae`` (or ``seq-lm``) and what the checkpoint commands write for it.

    python -m minivae train --model seq-vae --data names             # the bundled census first names, characters
    python -m minivae train --model seq-vae --text poems.txt         # your own text file, one text per line, words
    python -m minivae train --model seq-lm --data names              # the baseline: the same decoder without z

A text run reads its corpus with ``minivae.datasets.corpus.text_dataset`` (the vocabulary and the options are
recorded in the checkpoint, so every later command encodes text the same way) and trains a ``SequenceVAE`` or a
``SequenceLM``. Where an image run draws PNGs, a text run writes markdown beside its curves:

    samples.md          texts decoded from z ~ N(0, I) (a VAE) or sampled from the LM, greedy or at a temperature
    reconstructions.md  test texts and their greedy reconstructions from z = mu(x)               (a VAE)
    homotopy.md         the texts decoded along the line between the codes of two test texts     (a VAE)

and ``evaluate`` prints the NLL per text and per token and the perplexity (``minivae.apps.evaluation.evaluate``).
"""
import sys
from pathlib import Path

import numpy as np

from minivae.apps.evaluation import evaluate
from minivae.cli import molecules as molecule_cli
from minivae.cli import options
from minivae.datasets.corpus import DEFAULT_MAX_LENGTH, TEXT_CORPORA
from minivae.datasets.molecules import MOLECULE_MAX_LENGTH
from minivae.fileio import atomic_write_bytes

SEQUENCE_MODELS = ("seq-vae", "seq-lm")
# The defaults of a new text run where they differ from an image run's (cli/train.py NEW_RUN)
TEXT_RUN = dict(latent=16, hidden=(128,), embed=32, token_dropout=0.25, z_every_step=False, epochs=30,
                batch_size=64, lr=2e-3, warmup=2000, kl_schedule="logistic")
TEXT_MODEL_OPTIONS = ("embed", "token_dropout", "z_every_step")  # options of the sequence models only
TEXT_DATA_OPTIONS = dict(level=None, max_length=DEFAULT_MAX_LENGTH, max_vocab=None)  # text_dataset's, as given


def add_train_options(p):
    """The options of ``train`` that only text runs take (each defaults to None: "not given")."""
    p.add_argument("--text", default=None, metavar="FILE",
                   help="train on a UTF-8 text file, one text per line (word level unless --level char); use with "
                        "--model seq-vae or seq-lm (default: none; --data names is the bundled corpus)")
    p.add_argument("--level", choices=["char", "word"], default=None,
                   help="tokens of a text run: characters or whitespace-separated words (default: char for names, "
                        "word for --text)")
    p.add_argument("--max-length", type=options.integer(2, 100_000), default=None,
                   help=f"longest text in tokens, <bos> and <eos> included; longer texts are cut, longer molecules "
                        f"left out, and counted (default: {DEFAULT_MAX_LENGTH}; {MOLECULE_MAX_LENGTH} for molecules)")
    p.add_argument("--max-vocab", type=options.positive_int, default=None,
                   help="keep the most frequent tokens of the training texts, the rest become <unk> (default: all)")
    p.add_argument("--embed", type=options.positive_int, default=None,
                   help=f"token embedding size of a sequence model (default: {TEXT_RUN['embed']})")
    p.add_argument("--token-dropout", type=options.fraction, default=None,
                   help="probability that a decoder input token becomes <unk> in training (Bowman et al.'s word "
                        f"dropout; seq-vae) (default: {TEXT_RUN['token_dropout']})")
    p.add_argument("--z-every-step", action="store_const", const=True, default=None,
                   help="feed z to the decoder at every step, not only as its initial state (seq-vae) (default: off)")


def is_text_run(args):
    """True if the train options ask for a text run (a sequence model, --text or --smiles, a text corpus as --data)."""
    return (args.model in SEQUENCE_MODELS or args.text is not None or args.smiles is not None
            or args.data in TEXT_CORPORA)


def check_text_run(args):
    """The dataset and text_dataset options of a text run, or a ValueError saying which option does not fit."""
    if args.model not in SEQUENCE_MODELS:
        raise ValueError(f"{args.text or args.data} is text: train it with --model seq-vae (or seq-lm, the language "
                         "model baseline)")
    given = [o for o, v in (("--text", args.text), ("--smiles", args.smiles), ("--data", args.data)) if v]
    if len(given) > 1:
        raise ValueError(f"give one of --text FILE, --smiles FILE or --data, not {' and '.join(given)}")
    if args.text is None and args.smiles is None and args.data not in (None, *TEXT_CORPORA):
        raise ValueError(f"--model {args.model} trains on text or molecules: --data {' or '.join(TEXT_CORPORA)}, "
                         f"--text FILE or --smiles FILE; {args.data} is neither")
    if args.model == "seq-lm":
        vae_only = [f"--{o.replace('_', '-')}" for o in ("latent", "token_dropout", "z_every_step", "warmup",
                                                          "kl_schedule", "beta", "free_bits")
                    if getattr(args, o) is not None]
        if vae_only:
            raise ValueError(f"{', '.join(vae_only)}: the language model has no latent variable and no KL term; "
                             "these options are for --model seq-vae")
    image_only = [f"--{o.replace('_', '-')}" for o in ("table", "rescale", "image_shape", "likelihood", "activation",
                                                       "binarize", "corruption", "iw_samples")
                  if getattr(args, o, None)] + ["--exclude-classes"] * bool(args.exclude_classes)
    if image_only:
        raise ValueError(f"{', '.join(image_only)} do not apply to text")
    dataset = args.text or args.smiles or args.data or TEXT_CORPORA[0]
    text_options = {k: getattr(args, k) for k in TEXT_DATA_OPTIONS if getattr(args, k) not in (None,)}
    return dataset, {**text_options, **molecule_cli.data_options(args, dataset)}


def refuse_text_options(args):
    """An image run given an option of text runs: a ValueError naming it."""
    given = [f"--{o.replace('_', '-')}" for o in (*TEXT_MODEL_OPTIONS, *TEXT_DATA_OPTIONS,
                                                  *molecule_cli.MOLECULE_DATA_OPTIONS)
             if getattr(args, o) is not None]
    if given:
        raise ValueError(f"{', '.join(given)} apply to text runs only (--model seq-vae or seq-lm)")


def build_sequence_model(opts, data):
    """The SequenceVAE or SequenceLM that the options describe, its vocabulary size from the data's."""
    from minivae.models import SequenceLM, SequenceVAE

    hidden = opts.hidden
    if len(hidden) != 1:
        raise ValueError(f"a sequence model has one GRU hidden size (--hidden 256), got --hidden "
                         f"{','.join(map(str, hidden))}")
    common = dict(vocab_size=len(data.encoder), embed_dim=opts.embed, hidden_dim=hidden[0], seed=opts.seed)
    if opts.model == "seq-lm":
        return SequenceLM(**common)
    return SequenceVAE(latent_dim=opts.latent, token_dropout=opts.token_dropout, z_every_step=opts.z_every_step,
                       **common)


# -- what a text run writes ---------------------------------------------------------------------------------------


def write_text_outputs(model, data, folder, seed=0, n=20):
    """samples.md (and for a VAE reconstructions.md and homotopy.md) in ``folder``; returns the paths written."""
    folder = Path(folder)
    vocab, rng = data.encoder, np.random.default_rng(seed)
    docs = {"samples.md": sample_document(model, vocab, rng, n, temperature=1.0)}
    if model.probabilistic:
        docs["reconstructions.md"] = reconstruction_document(model, vocab, data.x_test[:n])
        docs["homotopy.md"] = homotopy_document(model, vocab, data.x_test, 0, 1, 7)
    paths = []
    for name, text in docs.items():
        atomic_write_bytes(folder / name, text.encode("utf-8"))
        paths.append(folder / name)
    return paths


def sample_document(model, vocab, rng, n, temperature=1.0, beam_width=None, max_length=64):
    """n texts from the model, as markdown: z ~ N(0, I) decoded (a VAE), or sampled token by token (an LM)."""
    how = ("beam search, width {beam_width}" if beam_width else
           "greedy decoding" if temperature == 0 else f"sampling at temperature {temperature:g}")
    if beam_width and model.probabilistic:
        from minivae.models.sequence_decoding import beam_search
        from minivae.nn.reparam import sample_eps

        ids = beam_search(model, sample_eps(rng, (n, model.latent_dim), model.dtype), beam_width, max_length)
    elif beam_width:
        raise ValueError("beam search decodes a code z: it needs a seq-vae checkpoint (an LM samples with "
                         "--temperature)")
    else:
        ids = model.sample(n, rng, temperature=temperature, max_length=max_length)
    source = "z ~ N(0, I), decoded by " if model.probabilistic else "the language model, "
    texts = readable(vocab, ids)
    return markdown_list("Samples", [f"{n} texts from {source}{how.format(beam_width=beam_width)}."], texts)


def reconstruction_document(model, vocab, ids, beam_width=None):
    """Test texts and their reconstructions (greedy, or beam search, from z = mu(x)), as a markdown list."""
    if beam_width:
        from minivae.models.sequence_decoding import beam_search

        rebuilt = beam_search(model, model.encode(ids)[0], beam_width, ids.shape[1] + 10)
    else:
        rebuilt = model.reconstruct(ids)
    texts, decoded = readable(vocab, ids), readable(vocab, rebuilt)
    pairs = [f"{a}  →  {b}" + ("" if a == b else "  ✗") for a, b in zip(texts, decoded)]
    same = sum(a == b for a, b in zip(texts, decoded))
    how = f"beam search, width {beam_width}" if beam_width else "greedy decoding"
    return markdown_list("Reconstructions", [f"Each test text, then its decoding from z = mu(x) ({how}); {same} of "
                                             f"{len(pairs)} come back exactly (✗: it does not)."], pairs)


def homotopy_document(model, vocab, ids, a, b, n, method="greedy"):
    """The homotopy between test texts a and b (Bowman et al. 2016, Table 1): decodings of codes on the line."""
    from minivae.models.sequence_decoding import homotopy

    for index, option in ((a, "-a"), (b, "-b")):
        if not -len(ids) <= index < len(ids):
            raise ValueError(f"{option} {index} is not an index of the test set, which has {len(ids)} texts (0 to "
                             f"{len(ids) - 1})")
    rows = homotopy(model, ids[a:a + 1], ids[b:b + 1], n=n, method=method)
    start, end = readable(vocab, ids[a:a + 1])[0], readable(vocab, ids[b:b + 1])[0]
    return markdown_list("Homotopy", [f"From test text {a} ({start!r}) to test text {b} ({end!r}): the texts decoded "
                                      f"({method}) from {n} codes evenly spaced on the line between their posterior "
                                      "means mu(x)."], readable(vocab, np.asarray(rows)))


def readable(vocab, ids):
    """The texts of token ids (N, T); for molecules their canonical SMILES (a SELFIES string is hard to read), or
    the string as decoded with "(not a molecule)" when RDKit cannot read it."""
    texts = vocab.decode(ids)
    if not molecule_cli.is_molecular(vocab):
        return texts
    from minivae.apps.molecules import canonical_smiles

    return [canonical_smiles(t, vocab.level) or f"{t} (not a molecule)" for t in texts]


def write_document(text, path):
    """Write a markdown document atomically, print it, and say where it went."""
    atomic_write_bytes(path, text.encode("utf-8"))
    sys.stdout.write(text)
    print(f"wrote {path}")


def markdown_list(title, notes, texts):
    """A markdown document: "# title", the notes (one paragraph each), then the texts as a numbered list.

    An empty text is shown as *(empty)*, so that a model that stops at once is seen to do so.
    """
    lines = [f"# {title}", ""]
    for note in notes:
        lines += [note, ""]
    lines += [f"{i}. {text if text else '*(empty)*'}" for i, text in enumerate(texts, start=1)]
    return "\n".join(lines) + "\n"


def evaluate_text(model, data, rng, k):
    """evaluate's report for a text model: NLL per text and per token, perplexity; a VAE's ELBO terms and z's use.

    A language model's NLL is exact; a VAE's is the importance-weighted bound with k samples (its ELBO overstates
    the NLL by the gap to the true posterior).
    """
    s = evaluate(model, data.x_test, rng, k=k if model.probabilistic else None)
    print(f"{data.name} test set ({s['n_examples']} texts, {s['n_tokens']} predicted tokens: every token after <bos>, "
          "<eos> included), nats, lower is better:")
    if model.probabilistic:
        print(f"  negative ELBO     {s['neg_elbo']:9.3f}   per text = reconstruction {s['reconstruction']:.3f} + KL "
              f"{s['kl']:.3f} (one sample of z per text)")
        print(f"  NLL per text      {s['neg_iw_bound']:9.3f}   the importance-weighted bound, K = {k}")
        print(f"  active units      {s['active_units']:9d}   of {model.latent_dim}; I(x; z) estimate "
              f"{s['mutual_information']:.3f} nats")
    else:
        print(f"  NLL per text      {s['neg_log_likelihood']:9.3f}   exact (a language model)")
    print(f"  NLL per token     {s['nll_per_token']:9.4f}   perplexity {s['perplexity']:.3f}")
