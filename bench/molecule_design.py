"""Designing molecules in latent space, measured: gradient ascent on a property predictor from several seed
molecules, against a random walk of the same step lengths from the same seeds.

For a checkpoint of ``python -m minivae train --model seq-vae --data molecules``: the property predictor is fitted
once (``minivae.cli.molecules.fit_property_predictor``, as ``optimize`` fits it), then from each seed molecule's code
the path of ``optimize`` with its defaults is decoded and judged by RDKit (``design_path``). The control walks from the
same code in random directions, each step as long as the ascent's step at the same index, and decodes the same way:
a path that visits twenty molecules finds a better one by chance too, and the ascent is worth what it adds to that.

Columns: the seed's property (RDKit's value for the seed's own decoding); for the ascent and for the random walks
(the mean over --walks of them) the best value along the path and the mean over its second half (where it ended
up); the fraction of the ascent's codes that decode to valid molecules and the distinct molecules on it.

    python bench/molecule_design.py runs/molecules/checkpoint.npz                  # QED, five seeds
    python bench/molecule_design.py runs/molecules/checkpoint.npz --property logp
"""
import argparse

import numpy as np

from minivae.apps.latent_design import decode_path
from minivae.apps.molecules import PROPERTIES, canonical_smiles, to_molecule
from minivae.cli.common import checkpoint_vocabulary
from minivae.cli.molecules import DESIGN, design_path, encoder_means, fit_property_predictor, seed_ids
from minivae.datasets.molecules import MOLECULE_MAX_LENGTH
from minivae.training.checkpoint import load_checkpoint
from minivae.training.run_data import data_of_checkpoint

SEEDS = {"paracetamol": "CC(=O)Nc1ccc(O)cc1", "aspirin": "CC(=O)Oc1ccccc1C(=O)O", "phenol": "Oc1ccccc1",
         "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "benzocaine": "CCOC(=O)c1ccc(N)cc1"}


def random_walk(z0, step_lengths, rng):
    """(len(step_lengths) + 1, L) codes: from z0, each step of the given length in a uniformly random direction."""
    path = [z0]
    for length in step_lengths:
        direction = rng.standard_normal(z0.shape)
        path.append(path[-1] + length * direction / np.linalg.norm(direction))
    return np.array(path)


def values_along(model, vocab, path, prop):
    """The property of the molecule each code of a path decodes to (greedy), NaN where it decodes to none."""
    smiles = [canonical_smiles(s, vocab.level) for s in decode_path(model, path, vocab.decode, MOLECULE_MAX_LENGTH)]
    return np.array([np.nan if s is None else prop(to_molecule(s, "smiles")) for s in smiles])


def summary(values):
    """(best, mean over the second half of the path): what a path found, and where it ended up."""
    return np.nanmax(values), np.nanmean(values[len(values) // 2:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--property", choices=list(PROPERTIES), default="qed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--walks", type=int, default=5, help="random walks per seed molecule (their mean is shown)")
    args = parser.parse_args()

    ckpt = load_checkpoint(args.checkpoint)
    model, vocab = ckpt.model, checkpoint_vocabulary(ckpt)
    data = data_of_checkpoint(ckpt)
    label, prop = PROPERTIES[args.property]
    predictor, fit = fit_property_predictor(model, data, args.property, seed=args.seed)
    print(f"{label}: predictor validation R^2 {fit.validation_r2:.3f}; ascent of {DESIGN['steps']} steps, step "
          f"{DESIGN['step_size']:g}, prior weight {DESIGN['prior_weight']:g}; random walks of the same step "
          "lengths\n")
    print(f"| seed | start | ascent: best (step) | ascent: mean of the second half | random walks: best | random "
          f"walks: mean of the second half | valid on the ascent | distinct molecules |\n|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(args.seed)
    for name, smiles in SEEDS.items():
        z0 = encoder_means(model, seed_ids(smiles, vocab))[0]
        rows, found, path = design_path(model, vocab, predictor, z0, args.property)
        ascent = np.array([np.nan if r["actual"] is None else r["actual"] for r in rows])
        lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)  # the ascent's own step lengths
        walks = np.array([summary(values_along(model, vocab, random_walk(z0, lengths, rng), prop))
                          for _ in range(args.walks)]).mean(axis=0)
        start = "n/a" if found["start_actual"] is None else f"{found['start_actual']:.3f}"
        best = "n/a" if found["best_actual"] is None else f"{found['best_actual']:.3f} ({found['best_step']})"
        print(f"| {name} | {start} | {best} | {summary(ascent)[1]:.3f} | {walks[0]:.3f} | {walks[1]:.3f} | "
              f"{found['valid_fraction']:.0%} | {found['distinct_valid']} |", flush=True)


if __name__ == "__main__":
    main()
