"""Designing molecules in latent space, measured: gradient ascent on a property predictor from several seed
molecules, against a random walk of the same step lengths from the same seeds.

For a checkpoint of ``python -m minivae train --model seq-vae --data molecules``: the property predictor is fitted
once (``minivae.cli.molecules.fit_property_predictor``, as ``optimize`` fits it), then from each seed molecule's code
the path of ``optimize`` with its defaults is decoded and judged by RDKit (``design_path``). The control walks from the
same code in random directions, each step as long as the ascent's step at the same index, and decodes the same way:
a path that visits twenty molecules finds a better one by chance too, and the ascent is worth what it adds to that.

Columns: the seed's property (RDKit's value for the seed's own decoding), the best value along the ascent and its
step, the fraction of the path's codes that decode to valid molecules, the distinct molecules on the path, and the
best value along the random walk.

    python bench/molecule_design.py runs/molecules/checkpoint.npz                  # QED, five seeds
    python bench/molecule_design.py runs/molecules/checkpoint.npz --property logp
"""
import argparse

import numpy as np

from minivae.apps.latent_design import decode_path
from minivae.apps.molecules import PROPERTIES, canonical_smiles, to_molecule
from minivae.cli.common import checkpoint_vocabulary
from minivae.cli.molecules import DESIGN, MOLECULE_LENGTH, design_path, encoder_means, fit_property_predictor, seed_ids
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


def best_along(model, vocab, path, prop):
    """The best property value (max) among the valid molecules the codes of a path decode to; None if none is."""
    smiles = [canonical_smiles(s, vocab.level) for s in decode_path(model, path, vocab.decode, MOLECULE_LENGTH)]
    values = [prop(to_molecule(s, "smiles")) for s in smiles if s is not None]
    return max(values, default=None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--property", choices=list(PROPERTIES), default="qed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ckpt = load_checkpoint(args.checkpoint)
    model, vocab = ckpt.model, checkpoint_vocabulary(ckpt)
    data = data_of_checkpoint(ckpt)
    label, prop = PROPERTIES[args.property]
    predictor, fit = fit_property_predictor(model, data, args.property, seed=args.seed)
    print(f"{label}: predictor validation R^2 {fit.validation_r2:.3f}; ascent of {DESIGN['steps']} steps, step "
          f"{DESIGN['step_size']:g}, prior weight {DESIGN['prior_weight']:g}; random walks of the same step "
          "lengths\n")
    print("| seed | start | best on the ascent (step) | valid on the path | distinct molecules | best on a random "
          "walk |\n|---|---|---|---|---|---|")
    rng = np.random.default_rng(args.seed)
    for name, smiles in SEEDS.items():
        z0 = encoder_means(model, seed_ids(smiles, vocab))[0]
        rows, summary = design_path(model, vocab, predictor, z0, args.property)
        path_lengths = np.linalg.norm(np.diff(_ascent_codes(predictor, z0), axis=0), axis=1)
        control = best_along(model, vocab, random_walk(z0, path_lengths, rng), prop)
        start = "n/a" if summary["start_actual"] is None else f"{summary['start_actual']:.3f}"
        best = "n/a" if summary["best_actual"] is None else f"{summary['best_actual']:.3f} ({summary['best_step']})"
        print(f"| {name} | {start} | {best} | {summary['valid_fraction']:.0%} | {summary['distinct_valid']} | "
              f"{'n/a' if control is None else f'{control:.3f}'} |", flush=True)


def _ascent_codes(predictor, z0):
    from minivae.apps.latent_design import latent_ascent

    return latent_ascent(predictor, z0, DESIGN["steps"], DESIGN["step_size"], DESIGN["prior_weight"])


if __name__ == "__main__":
    main()
