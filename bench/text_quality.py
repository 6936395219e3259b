"""The sequence VAE against its language-model baseline on the bundled census first names: NLL, KL, active units.

Bowman et al. (2016) put an RNN language model beside their sentence VAE: the same decoder, no latent variable,
trained on the same data for the same budget. A VAE whose NLL (from the importance-weighted bound) is close to the
LM's while its KL is clearly above 0 models the data as well as the LM *and* puts information into z. One whose KL
is 0 has collapsed: its decoder is an LM that ignores z.

Rows (each one run of ``Trainer.fit`` with the same seed, architecture and number of epochs):

    LM                      SequenceLM: embedding -> GRU (h0 = 0) -> softmax
    VAE, no remedies        SequenceVAE with beta = 1 from the first step and no token dropout: the collapse setting
    + KL annealing          logistic annealing of beta over the first --warmup steps
    + token dropout         and decoder inputs replaced by <unk> with probability --dropout
    + free bits             and a floor of --free-bits nats per latent dimension on the KL

Columns: test NLL per name (nats; exact for the LM, the IW bound with K = --k for the VAEs), NLL per token,
perplexity, the negative ELBO and KL (one sample of z), active units (of --latent) and the estimate of I(x; z), and
the best held-out loss of any epoch with its epoch (the LM's exact NLL, a VAE's negative ELBO): whether a model was
past its best when training stopped.

    python bench/text_quality.py                    # 30 epochs each, GRU 128 (about 40 minutes on 2 busy cores)
    python bench/text_quality.py --epochs 3 --hidden 64 --k 50     # a quick look
"""
import argparse
import time

import numpy as np

from minivae.apps.evaluation import evaluate
from minivae.datasets.corpus import text_dataset
from minivae.models import SequenceLM, SequenceVAE
from minivae.training.trainer import TrainConfig, Trainer


def rows(args):
    """(label, model maker, TrainConfig settings) of the table's rows."""
    common = dict(embed_dim=args.embed, hidden_dim=args.hidden, seed=args.seed)
    vae = dict(latent_dim=args.latent, **common)
    anneal = dict(warmup_steps=args.warmup, kl_schedule="logistic")
    return [
        ("LM", lambda v: SequenceLM(v, **common), {}),
        ("VAE, no remedies", lambda v: SequenceVAE(v, **vae), {}),
        ("+ KL annealing", lambda v: SequenceVAE(v, **vae), anneal),
        ("+ token dropout", lambda v: SequenceVAE(v, token_dropout=args.dropout, **vae), anneal),
        ("+ free bits", lambda v: SequenceVAE(v, token_dropout=args.dropout, **vae),
         dict(anneal, free_bits=args.free_bits)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embed", type=int, default=32)
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=2000, help="KL annealing steps (logistic)")
    parser.add_argument("--dropout", type=float, default=0.25, help="token dropout probability")
    parser.add_argument("--free-bits", type=float, default=0.25, help="nats per latent dimension")
    parser.add_argument("--k", type=int, default=500, help="importance samples of the VAEs' NLL")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="run only the rows whose label contains this text")
    args = parser.parse_args()

    data = text_dataset("names")
    print(f"{data.name}: {len(data.x_train)} train / {len(data.x_test)} test names, vocabulary {len(data.encoder)}; "
          f"{args.epochs} epochs, batch {args.batch_size}, Adam lr {args.lr:g}, embed {args.embed}, GRU "
          f"{args.hidden}, latent {args.latent}, seed {args.seed}\n")
    header = (f"| {'model':<18} | NLL/name | NLL/token | perplexity | -ELBO | KL | active units | I(x;z) | "
              "best held-out (epoch) | minutes |")
    print(header + "\n|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for label, make, settings in rows(args):
        if args.only and args.only not in label:
            continue
        model = make(len(data.encoder))
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, quiet=True,
                             **settings)
        t0 = time.perf_counter()
        history = Trainer(model, config).fit(data.x_train, data.x_test)
        minutes = (time.perf_counter() - t0) / 60
        vae = model.probabilistic
        s = evaluate(model, data.x_test, np.random.default_rng(args.seed), k=args.k if vae else None)
        nll = s["neg_iw_bound"] if vae else s["neg_log_likelihood"]
        cells = [f"{nll:.3f}", f"{s['nll_per_token']:.4f}", f"{s['perplexity']:.3f}",
                 f"{s['neg_elbo']:.3f}" if vae else "", f"{s['kl']:.3f}" if vae else "",
                 f"{s['active_units']}/{args.latent}" if vae else "", f"{s['mutual_information']:.3f}" if vae else "",
                 f"{min(history['val_loss']):.3f} ({int(np.argmin(history['val_loss'])) + 1})", f"{minutes:.1f}"]
        print(f"| {label:<18} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
