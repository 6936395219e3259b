"""The command line for molecules: a sequence VAE over SMILES or SELFIES strings, judged by RDKit.

    python -m minivae train --model seq-vae --data molecules --representation selfies   # RDKit's NCI molecules
    python -m minivae train --model seq-vae --smiles drugs.smi --representation smiles  # your own .smi or .csv
    python -m minivae sample runs/molecules/checkpoint.npz -n 1000                      # -> samples.smi
    python -m minivae evaluate runs/molecules/checkpoint.npz                            # the metrics table
    python -m minivae optimize runs/molecules/checkpoint.npz --property qed --from "CCO"

A molecule run is a text run (``minivae.cli.text``) whose tokens are chemical: the vocabulary's level is "smiles" or
"selfies" (``minivae.datasets.molecules``). What differs is what it writes and prints: molecules, not texts.
RDKit and selfies come with ``pip install 'minivae[molecules]'``; without them these commands say so in one line.
"""
from pathlib import Path

import numpy as np

from minivae.datasets.molecules import MOLECULE_CORPORA, MOLECULE_MAX_LENGTH, REPRESENTATIONS

MOLECULE_DATA_OPTIONS = ("representation", "invalid")  # text_dataset's options that only molecule runs take
# The defaults of a new molecule run where they differ from a text run's (cli/text.py TEXT_RUN)
MOLECULE_RUN = dict(latent=32, hidden=(256,), embed=32, epochs=30)


def add_train_options(p):
    """The options of ``train`` that only molecule runs take (each defaults to None: "not given")."""
    p.add_argument("--smiles", default=None, metavar="FILE",
                   help="train on your own molecules: a .smi file (one SMILES per line, a name may follow) or a .csv "
                        "file with a smiles column; use with --model seq-vae (default: none; --data molecules is "
                        "RDKit's 4,999 NCI molecules)")
    p.add_argument("--representation", choices=REPRESENTATIONS, default=None,
                   help="how a molecule run writes its molecules: SELFIES (every string a valid molecule) or "
                        "canonical SMILES (default: selfies)")
    p.add_argument("--invalid", choices=["skip", "refuse"], default=None,
                   help="SMILES that RDKit cannot parse in the training file: leave them out (counted, their lines "
                        "named) or refuse the file (default: skip)")


def is_molecule_run(args, dataset):
    """True if a text run's data are molecules (--smiles FILE, or --data molecules)."""
    return args.smiles is not None or dataset in MOLECULE_CORPORA


def data_options(args, dataset):
    """text_dataset's options for a molecule run ({"level": representation, ...}); {} for a text run, which must not
    be given the molecule options."""
    if not is_molecule_run(args, dataset):
        given = [f"--{o}" for o in MOLECULE_DATA_OPTIONS if getattr(args, o) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply to molecule runs only (--data molecules or --smiles FILE)")
        return {}
    if args.level is not None:
        raise ValueError("--level is for text; a molecule run takes --representation smiles or selfies")
    options = {"level": args.representation or "selfies"}
    if args.invalid is not None:
        options["invalid"] = args.invalid
    return options


def is_molecular(vocab):
    """True if a text model's vocabulary is of molecules (level "smiles" or "selfies")."""
    return vocab.level in REPRESENTATIONS


# -- what a molecule run writes and prints --------------------------------------------------------------------------

N_SAMPLES = 1000  # molecules sampled from the prior to judge a model (the and MOSES's unit: per 1,000)
N_DATA = 1000  # training molecules whose properties stand for the data's distribution (property_sample)



def data_smiles(data, part="train"):
    """The canonical SMILES of a molecule Dataset's training (or test) part, decoded from its token ids."""
    from minivae.apps.molecules import canonical_smiles
    from minivae.datasets.molecules import canonical_of

    vocab = data.encoder
    strings = vocab.decode(data.x_train if part == "train" else data.x_test)
    known = canonical_of(strings, vocab.level)  # the dataset's own molecules: looked up, not parsed again
    return [k if k is not None else canonical_smiles(s, vocab.level) for s, k in zip(strings, known)]


def sample_molecules(model, vocab, rng, n=N_SAMPLES, temperature=1.0, max_length=None):
    """n strings of the model's representation: z ~ N(0, I) decoded token by token at the temperature."""
    ids = model.sample(n, rng, temperature=temperature, max_length=max_length or MOLECULE_MAX_LENGTH)
    return vocab.decode(ids)


def judge(model, data, rng, n=N_SAMPLES, temperature=1.0):
    """The metrics of n molecules sampled from the prior (``minivae.apps.molecules.molecule_metrics``)."""
    from minivae.apps.molecules import molecule_metrics

    samples = sample_molecules(model, data.encoder, rng, n, temperature)
    train = data_smiles(data, "train")
    return molecule_metrics(samples, data.encoder.level, train, data_smiles=property_sample(train))


def property_sample(smiles, n=N_DATA):
    """A fixed random subset of n molecules (seed 0), whose properties stand for the data's distribution: RDKit's
    QED takes milliseconds a molecule, and 1,000 draws pin a distribution down well enough for W1."""
    if len(smiles) <= n:
        return list(smiles)
    return [smiles[i] for i in sorted(np.random.default_rng(0).choice(len(smiles), n, replace=False))]


def write_molecule_outputs(model, data, folder, seed=0, n=N_SAMPLES):
    """After a molecule run, in ``folder``: samples.smi (the valid molecules of n sampled), metrics.md (their
    table), properties.png (QED, logP and weight of samples and data) and molecules.png (a grid of 20 of them)."""
    from minivae.apps.molecules import MOSES_VAE, metrics_table
    from minivae.fileio import atomic_write_bytes
    from minivae.plots.molecules import molecule_grid, property_histograms
    from minivae.cli.common import save

    folder = Path(folder)
    metrics = judge(model, data, np.random.default_rng(seed), n)
    valid = metrics["valid_smiles"]
    write_smi(valid, folder / "samples.smi")
    table = metrics_table(metrics, MOSES_VAE)
    atomic_write_bytes(folder / "metrics.md", (f"# {n} molecules sampled from the prior\n\n{table}").encode())
    save(property_histograms(valid, property_sample(data_smiles(data, "train"))), folder / "properties.png")
    molecule_grid(valid[:20], folder / "molecules.png")
    print(table)
    return metrics


def write_smi(smiles, path):
    """A .smi file: one canonical SMILES per line, then a name (sample_1, sample_2, ...), written atomically."""
    from minivae.fileio import atomic_write_bytes

    lines = [f"{s}\tsample_{i}" for i, s in enumerate(smiles, start=1)]
    atomic_write_bytes(path, ("\n".join(lines) + "\n" if lines else "").encode())


def evaluate_molecules(model, data, rng, n=N_SAMPLES, temperature=1.0):
    """evaluate's molecule part: the metrics of n molecules from the prior, as the table of ``metrics_table``."""
    from minivae.apps.molecules import MOSES_VAE, metrics_table

    metrics = judge(model, data, rng, n, temperature)
    how = "z ~ N(0, I), each token" if model.probabilistic else "the language model, each token"
    print(f"\n{n} molecules sampled ({how} drawn at temperature {temperature:g}), judged with RDKit against the "
          f"{len(data.x_train)} training molecules (their properties: {min(N_DATA, len(data.x_train))} of them drawn "
          "at random):\n")
    print(metrics_table(metrics, MOSES_VAE))
    return metrics


def sample_to_smi(model, vocab, rng, n, temperature, path):
    """sample's molecule form: n molecules from the model; the valid ones to a .smi file, a grid of them beside it."""
    from minivae.apps.molecules import canonical_smiles
    from minivae.plots.molecules import molecule_grid

    path = Path(path)
    if path.suffix.lower() != ".smi":
        raise ValueError(f"--out {path}: a molecule model's samples are written as SMILES; give a .smi file")
    strings = sample_molecules(model, vocab, rng, n, temperature)
    smiles = [canonical_smiles(s, vocab.level) for s in strings]
    valid = [s for s in smiles if s is not None]
    write_smi(valid, path)
    print(f"{len(valid)} of {n} sampled strings are valid molecules ({len(set(valid))} distinct); wrote them to "
          f"{path}")
    if valid:
        molecule_grid(valid[:20], path.with_suffix(".png"))
        print(f"wrote {path.with_suffix('.png')} (the first {min(20, len(valid))} drawn)")


# -- optimize: designing molecules in latent space --------------------------------------------------------------------

DESIGN = dict(steps=100, step_size=4.0, prior_weight=0.125, predictor_epochs=60)  # optimize's defaults (measured)


def add_commands(sub):
    """The ``optimize`` command."""
    from minivae.cli import options
    from minivae.cli.common import add_checkpoint_command, add_data_options

    p = add_checkpoint_command(sub, "optimize", "design molecules: fit a property predictor on z, then climb it from "
                               "the code of a seed molecule, decoding along the path (Gomez-Bombarelli et al. 2018)",
                               cmd_optimize, out="optimize.md", out_help="markdown table to write (the drawing of "
                               "the path beside it, .png)")
    add_data_options(p)
    p.add_argument("--property", choices=["qed", "logp", "mw"], default="qed",
                   help="the property to raise: QED (drug-likeness, 0 to 1), logP (Crippen) or molecular weight")
    p.add_argument("--from", dest="seed_smiles", required=True, metavar="SMILES",
                   help="the seed molecule, as SMILES (for example a test molecule, or one of yours)")
    p.add_argument("--minimize", action="store_true", help="lower the property instead of raising it")
    p.add_argument("--steps", type=options.integer(1, 10_000), default=DESIGN["steps"], help="ascent steps")
    p.add_argument("--step-size", type=options.positive_float, default=DESIGN["step_size"],
                   help="eta of z <- z + eta * grad (f(z) - w ||z||^2 / 2)")
    p.add_argument("--prior-weight", type=options.nonnegative_float, default=DESIGN["prior_weight"],
                   help="w: how strongly the path is held where the prior puts the codes (0: not at all)")
    p.add_argument("--predictor-epochs", type=options.integer(1, 10_000), default=DESIGN["predictor_epochs"],
                   help="epochs of the property predictor's training on the codes of the training molecules")


def cmd_optimize(args):
    from minivae.apps.latent_design import markdown_design_table
    from minivae.apps.molecules import PROPERTIES
    from minivae.cli.common import checkpoint_data, checkpoint_vocabulary, text_out
    from minivae.cli.text import write_document
    from minivae.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, vocab = ckpt.model, checkpoint_vocabulary(ckpt) if ckpt.model.input_kind == "tokens" else None
    if vocab is None or not is_molecular(vocab) or not model.probabilistic:
        raise ValueError("optimize climbs the latent space of a molecule VAE: give the checkpoint of "
                         "train --model seq-vae --data molecules (or --smiles FILE)")
    out = text_out(args)
    z0 = encoder_means(model, seed_ids(args.seed_smiles, vocab))[0]  # checked before the predictor is fitted
    data = checkpoint_data(ckpt, args)
    predictor, fit = fit_property_predictor(model, data, args.property, args.predictor_epochs, args.seed)
    label = PROPERTIES[args.property][0]
    print(f"property predictor {label} from z: validation R^2 {fit.validation_r2:.3f} "
          f"({len(data.x_train)} training molecules, {args.predictor_epochs} epochs)")
    rows, summary, _ = design_path(model, vocab, predictor, z0, args.property, args.steps, args.step_size,
                                   args.prior_weight, args.minimize)
    how = "lowering" if args.minimize else "raising"
    head = (f"# Designing by {how} {label} in latent space\n\nFrom {args.seed_smiles}: {args.steps} steps of "
            f"gradient {'descent' if args.minimize else 'ascent'} on the predictor (step {args.step_size:g}, prior "
            f"weight {args.prior_weight:g}), every code decoded greedily; 'actual' is RDKit's value for the decoded "
            "molecule, 'predicted' the predictor's for the code.\n\n")
    write_document(head + markdown_design_table(rows, summary), out)
    draw_path(rows, args.property, Path(out).with_suffix(".png"))


def fit_property_predictor(model, data, name, epochs=DESIGN["predictor_epochs"], seed=0):
    """(PropertyPredictor, its FitHistory): f(z) ~ the property ``name`` of the training molecules, fitted on their
    codes z = mu(x) (``minivae.apps.latent_design``; 10% of them held out for the validation R^2)."""
    from minivae.apps.latent_design import PropertyPredictor
    from minivae.apps.molecules import PROPERTIES, to_molecule

    prop = PROPERTIES[name][1]
    z_train = encoder_means(model, data.x_train)
    y_train = [prop(to_molecule(s, "smiles")) for s in data_smiles(data, "train")]
    predictor = PropertyPredictor(model.latent_dim, seed=seed)
    return predictor, predictor.fit(z_train, y_train, epochs=epochs, seed=seed)


def design_path(model, vocab, predictor, z0, name, steps=DESIGN["steps"], step_size=DESIGN["step_size"],
                prior_weight=DESIGN["prior_weight"], minimize=False):
    """``design_table``'s (rows, summary) of the ascent from z0, every code decoded greedily and judged by RDKit,
    and the path of codes itself (steps + 1, L)."""
    from minivae.apps.latent_design import decode_path, design_table, latent_ascent
    from minivae.apps.molecules import PROPERTIES, canonical_smiles, to_molecule

    prop = PROPERTIES[name][1]
    path = latent_ascent(predictor, z0, steps, step_size, prior_weight, minimize)
    strings = decode_path(model, path, vocab.decode, max_length=MOLECULE_MAX_LENGTH)
    smiles = [canonical_smiles(s, vocab.level) for s in strings]
    actual = [None if s is None else prop(to_molecule(s, "smiles")) for s in smiles]
    rows, summary = design_table([s or t for s, t in zip(smiles, strings)], predictor.predict(path), actual, minimize)
    return rows, summary, path


def encoder_means(model, ids, batch_size=500):
    """mu(x) (N, L) of token ids (N, T), in batches."""
    return np.concatenate([model.encode(ids[i:i + batch_size])[0] for i in range(0, len(ids), batch_size)])


def seed_ids(smiles, vocab):
    """One molecule's token ids (1, T) in the model's representation, or a ValueError saying what is wrong with it."""
    from minivae.datasets.molecules import rdkit_conventions
    from minivae.datasets.text import UNK_ID
    import selfies
    from rdkit import Chem

    with rdkit_conventions():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None or mol.GetNumAtoms() == 0:
            raise ValueError(f"--from {smiles!r}: RDKit cannot read this SMILES; give a valid molecule")
        canonical = Chem.MolToSmiles(mol)
        try:
            text = canonical if vocab.level == "smiles" else selfies.encoder(canonical)
        except selfies.EncoderError:
            raise ValueError(f"--from {smiles!r}: SELFIES cannot write this molecule (an atom above the valences "
                             "it knows); start from another") from None
    encoded = vocab.encode([text])
    if (encoded.ids == UNK_ID).any():
        unknown = sorted({t for t in vocab.tokenize(text) if t not in vocab.index})
        raise ValueError(f"--from {smiles!r}: the model never saw the token(s) {', '.join(unknown)}; start from a "
                         "molecule made of the training molecules' atoms and bonds")
    return encoded.ids


SHORT_NAMES = {"qed": "QED", "logp": "logP", "mw": "MW"}  # for the legends of a drawing
MAX_DRAWN = 20  # the most molecules of a path one drawing shows


def draw_path(rows, name, path):
    """The distinct valid molecules of a design path in order (at most MAX_DRAWN, evenly spaced, the best among
    them), each with its step and property value."""
    from minivae.plots.molecules import molecule_grid

    seen, firsts = set(), []
    for r in rows:
        if r["valid"] and r["string"] not in seen:
            seen.add(r["string"])
            firsts.append(r)
    if not firsts:
        return
    shown = firsts
    if len(firsts) > MAX_DRAWN:
        best = max(range(len(firsts)), key=lambda i: firsts[i]["actual"])
        picks = set(np.linspace(0, len(firsts) - 1, MAX_DRAWN - 1).round().astype(int)) | {best}
        shown = [firsts[i] for i in sorted(picks)]
    legends = [f"step {r['step']}: {SHORT_NAMES[name]} {r['actual']:.3f}" for r in shown]
    molecule_grid([r["string"] for r in shown], path, legends=legends)
    print(f"wrote {path} ({len(shown)} of the {len(firsts)} distinct molecules along the path)")
