"""The molecule VAE on RDKit's NCI molecules, SELFIES against SMILES, judged by RDKit: the table of the README.

Each VAE row is one run of ``Trainer.fit`` with the settings of ``python -m minivae train --model seq-vae --data
molecules`` (cli/molecules.py MOLECULE_RUN over cli/text.py TEXT_RUN: GRU 256, latent 32, embedding 32, token
dropout 0.25, logistic KL annealing over 2,000 steps, 30 epochs, batch 64, Adam 2e-3), then N molecules sampled from
the prior (z ~ N(0, I), each token drawn at temperature 1) and judged by ``minivae.apps.molecules.molecule_metrics``
against the training molecules. The "random tokens" rows are the floor: strings of the same lengths as the training
molecules, each token drawn uniformly from the vocabulary, no model at all.

Columns: validity, uniqueness (of the valid), novelty (of the distinct valid), internal diversity; the 1-D
Wasserstein distance W1 between the samples' and the data's QED, logP and molecular weight (0: the same
distribution; the data's: 1,000 training molecules drawn at random); the test NLL per molecule (the IW bound, K = --k) and the KL (nats), active units, minutes.

    python bench/molecule_quality.py                            # both VAEs, about 25 minutes on 2 cores
    python bench/molecule_quality.py --epochs 3 --only selfies  # a quick look
"""
import argparse
import time

import numpy as np

from minivae.apps.evaluation import evaluate
from minivae.apps.molecules import molecule_metrics
from minivae.cli.molecules import MOLECULE_RUN, data_smiles, property_sample
from minivae.cli.text import TEXT_RUN
from minivae.datasets.corpus import text_dataset
from minivae.datasets.text import PAD_ID, SPECIALS
from minivae.models import SequenceVAE
from minivae.training.trainer import TrainConfig, Trainer

RUN = {**TEXT_RUN, **MOLECULE_RUN}


def random_strings(data, rng, n):
    """n strings of tokens drawn uniformly from the vocabulary (no specials), as long as random training molecules."""
    vocab = data.encoder
    lengths = (data.x_train != PAD_ID).sum(axis=1) - 2  # without <bos> and <eos>
    tokens = np.arange(len(SPECIALS), len(vocab))
    return ["".join(vocab.tokens[t] for t in rng.choice(tokens, size=max(1, int(k))))
            for k in rng.choice(lengths, size=n)]


def row(label, metrics, extra):
    p = metrics["properties"]
    cells = [f"{metrics['validity']:.3f}", _fraction(metrics["uniqueness"]), _fraction(metrics["novelty"]),
             _fraction(metrics["internal_diversity"]),
             *(f"{p[name]['wasserstein']:.3g}" if p[name]["wasserstein"] is not None else "n/a"
               for name in ("qed", "logp", "mw")), *extra]
    print(f"| {label:<22} | " + " | ".join(cells) + " |", flush=True)


def _fraction(value):
    return "n/a" if value is None else f"{value:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=RUN["epochs"])
    parser.add_argument("--hidden", type=int, default=RUN["hidden"][0])
    parser.add_argument("--embed", type=int, default=RUN["embed"])
    parser.add_argument("--latent", type=int, default=RUN["latent"])
    parser.add_argument("--samples", type=int, default=1000, help="molecules sampled from the prior per model")
    parser.add_argument("--k", type=int, default=100, help="importance samples of the test NLL")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["selfies", "smiles"], default=None, help="one representation only")
    args = parser.parse_args()

    print(f"{args.epochs} epochs, batch {RUN['batch_size']}, Adam lr {RUN['lr']:g}, GRU {args.hidden}, latent "
          f"{args.latent}, embed {args.embed}, token dropout {RUN['token_dropout']}, logistic KL annealing over "
          f"{RUN['warmup']} steps, seed {args.seed}; {args.samples} samples per row, temperature 1\n")
    header = ("| row | validity | uniqueness | novelty | int. diversity | W1 QED | W1 logP | W1 MW | NLL/molecule | "
              "KL | active units | minutes |")
    print(header + "\n|" + "|".join("---" for _ in header.split("|")[1:-1]) + "|")
    for representation in ("selfies", "smiles"):
        if args.only and args.only != representation:
            continue
        data = text_dataset("molecules", level=representation)
        train = data_smiles(data, "train")
        reference = property_sample(train)  # the data's property distributions: 1,000 training molecules
        rng = np.random.default_rng(args.seed)
        row(f"random tokens, {representation}",
            molecule_metrics(random_strings(data, rng, args.samples), representation, train, reference), ["", "", "", ""])
        model = SequenceVAE(len(data.encoder), latent_dim=args.latent, embed_dim=args.embed, hidden_dim=args.hidden,
                            token_dropout=RUN["token_dropout"], seed=args.seed)
        config = TrainConfig(epochs=args.epochs, batch_size=RUN["batch_size"], lr=RUN["lr"], seed=args.seed,
                             warmup_steps=RUN["warmup"], kl_schedule=RUN["kl_schedule"], quiet=True)
        t0 = time.perf_counter()
        Trainer(model, config).fit(data.x_train, data.x_test)
        minutes = (time.perf_counter() - t0) / 60
        s = evaluate(model, data.x_test, np.random.default_rng(args.seed), k=args.k)
        samples = data.encoder.decode(model.sample(args.samples, rng, temperature=1.0, max_length=120))
        row(f"VAE, {representation}", molecule_metrics(samples, representation, train, reference),
            [f"{s['neg_iw_bound']:.2f}", f"{s['kl']:.2f}", f"{s['active_units']}/{args.latent}", f"{minutes:.1f}"])


if __name__ == "__main__":
    main()
