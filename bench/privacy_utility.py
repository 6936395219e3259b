"""The evidence for private training: what DP-SGD costs in test negative ELBO, and what it buys against an attack.

    python bench/privacy_utility.py                 # the README's table and figure, about 10 minutes on 2 cores
    python bench/privacy_utility.py --quick         # a fifth of the epochs: a smoke run, not the numbers
    python bench/privacy_utility.py --max-epochs 1  # every run one epoch: does it all work?

Three experiments, each at epsilon = infinity (not private), 10, 3 and 1 with delta = 1e-5, one seed (0). A private
run gets the least noise multiplier sigma that keeps its epsilon over all its epochs
(``PrivateRun.for_target``), clipping norm C = 1, Poisson batches of expected size L; the non-private run trains the
same model for the same epochs with the same batch size, learning rate and optimizer (shuffled batches, no clipping,
no noise). Every number is the model's after its last epoch.

1. **MNIST**, the bundled split (9,000 training / 1,000 test digits): VAE 784-400-20, Bernoulli likelihood, L = 512,
   Adam 3e-3, 30 epochs. Test negative ELBO, nats per image, one sample of z (the trainer's held-out figure).
2. **A table**, through the tabular path (CSV -> TabularEncoder -> the mixed likelihood): ten RDKit descriptors and
   one yes/no column of RDKit's NCI molecules (molecular weight, logP, TPSA, H-bond donors and acceptors, rotatable
   bonds, rings, aromatic rings, heavy atoms, fraction of sp3 carbons, any halogen), one row per molecule RDKit
   parses. VAE D-128-4, L = 256, Adam 3e-3, 40 epochs; test negative ELBO in nats per row. Needs the molecules extra
   (``pip install "minivae[molecules]"``); without it the table rows are left out, with a note.
3. **Membership**: 500 training digits drawn at random from the 9,000, and 500 others never trained on (the same
   distribution: the split of the bundled set is by writer, so its test digits would differ for another reason), VAE
   784-400-20, L = 50, Adam 1e-3, 200 epochs, a setting made to overfit. The loss-threshold attack's ROC AUC
   (``minivae.privacy.membership``), beside ``auc_bound``: the most that any attack can reach at that (epsilon,
   delta).

Prints a markdown table and writes figures/privacy-utility.png (--figure to change) and, beside it,
privacy-samples.png: 32 digits decoded from the prior by each MNIST model (the same z for all four).
"""
import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

EPSILONS = (math.inf, 10.0, 3.0, 1.0)
DELTA = 1e-5
CLIP = 1.0
EXPERIMENTS = {  # name: model and training settings
    "MNIST": dict(hidden=400, latent=20, batch_size=512, lr=3e-3, epochs=30),
    "NCI table": dict(hidden=128, latent=4, batch_size=256, lr=3e-3, epochs=40),
    "membership": dict(hidden=400, latent=20, batch_size=50, lr=1e-3, epochs=200, members=500),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a fifth of the epochs (a smoke run)")
    p.add_argument("--max-epochs", type=int, default=None, help="at most this many epochs per run")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--figure", default="figures/privacy-utility.png")
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy and Numba load
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import numpy as np

    from minivae.datasets import load_mnist_test_10k

    scale = (5 if args.quick else 1, args.max_epochs)
    mnist = load_mnist_test_10k()
    rows, models = [], {}
    for eps in EPSILONS:
        rows.append(utility("MNIST", mnist.x_train, mnist.x_test, eps, scale, models=models))
    table = nci_table()
    if table is None:
        print("note: the NCI table needs RDKit: pip install \"minivae[molecules]\"; its rows are left out")
    else:
        for eps in EPSILONS:
            rows.append(utility("NCI table", table.x_train, table.x_test, eps, scale, table.encoder))
    order = np.random.default_rng(0).permutation(len(mnist.x_train))
    m = EXPERIMENTS["membership"]["members"]
    members, others = mnist.x_train[order[:m]], mnist.x_train[order[m:2 * m]]
    for eps in EPSILONS:
        rows.append(membership(members, others, eps, scale))
    print_table(rows, args)
    draw(rows, args.figure)
    samples = Path(args.figure).with_name("privacy-samples.png")
    draw_samples(models, samples)
    print(f"wrote {args.figure} and {samples}")


def private_options(n, eps, batch_size, epochs):
    """The TrainConfig fields of a private run at eps (none for eps = inf), and its sigma (None)."""
    from minivae.privacy.budget import PrivateRun

    if math.isinf(eps):
        return {}, None
    run = PrivateRun.for_target(n, batch_size, CLIP, DELTA, eps, epochs)
    return dict(dp_clip_norm=CLIP, dp_noise_multiplier=run.noise_multiplier, dp_delta=DELTA, dp_epsilon=eps), run


def train(x_train, x_test, eps, settings, scale, likelihood="bernoulli"):
    """Train one model as the module docstring says; returns (trainer, sigma, seconds)."""
    from minivae.models import VAE
    from minivae.training.trainer import TrainConfig, Trainer

    divisor, cap = scale
    epochs = min(max(1, settings["epochs"] // divisor), cap or settings["epochs"])
    dp, run = private_options(len(x_train), eps, settings["batch_size"], epochs)
    config = TrainConfig(epochs=epochs, batch_size=settings["batch_size"], lr=settings["lr"], seed=0, quiet=True,
                         **dp)
    model = VAE(x_train.shape[1], latent_dim=settings["latent"], hidden=(settings["hidden"],), likelihood=likelihood,
                seed=0)
    t0 = time.perf_counter()
    trainer = Trainer(model, config)
    trainer.fit(x_train, x_test)
    return trainer, None if run is None else run.noise_multiplier, time.perf_counter() - t0


def utility(name, x_train, x_test, eps, scale, encoder=None, models=None):
    likelihood = "bernoulli" if encoder is None else {"name": "mixed", "columns": encoder.column_specs()}
    trainer, sigma, seconds = train(x_train, x_test, eps, EXPERIMENTS[name], scale, likelihood)
    if models is not None:
        models[eps] = trainer.model
    h = trainer.history
    row = dict(data=name, eps=eps, spent=h["epsilon"][-1], sigma=sigma, epochs=h["epoch"][-1],
               test=h["val_loss"][-1], seconds=seconds, auc=None, bound=None, gap=None)
    print(f"  {name} eps {eps:g}: test negative ELBO {row['test']:.2f}  ({seconds:.0f} s)", flush=True)
    return row


def membership(members, others, eps, scale):
    import numpy as np

    from minivae.privacy.membership import auc_bound, membership_auc

    trainer, sigma, seconds = train(members, others, eps, EXPERIMENTS["membership"], scale)
    rng = np.random.default_rng(1)
    auc = membership_auc(trainer.model, members, others, rng)
    train_loss = trainer.evaluate(members, epoch=0)[0]
    test = trainer.evaluate(others, epoch=0)[0]
    h = trainer.history
    row = dict(data=f"membership ({len(members)} digits)", eps=eps, spent=h["epsilon"][-1], sigma=sigma,
               epochs=h["epoch"][-1], test=test, seconds=seconds, auc=auc,
               bound=None if math.isinf(eps) else auc_bound(h["epsilon"][-1], DELTA), gap=test - train_loss)
    print(f"  membership eps {eps:g}: AUC {auc:.3f}, held-out - training {row['gap']:.1f} nats ({seconds:.0f} s)",
          flush=True)
    return row


def nci_table():
    """The NCI descriptor table (module docstring) as a tabular Dataset, or None without RDKit."""
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors
    except ImportError:
        return None
    from minivae.datasets.molecules import nci_path, read_smiles_file
    from minivae.datasets.tables import table_dataset, write_csv_table

    RDLogger.DisableLog("rdApp.*")  # the 8 molecules of the file that RDKit refuses are left out, without a warning each
    header = ["mol_weight", "logp", "tpsa", "labute_asa", "qed", "rings", "h_donors", "halogen"]
    rows = []
    for _, smiles in read_smiles_file(nci_path()):
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            continue
        halogen = any(atom.GetSymbol() in ("F", "Cl", "Br", "I") for atom in mol.GetAtoms())
        rows.append([f"{Descriptors.MolWt(mol):.2f}", f"{Crippen.MolLogP(mol):.3f}",
                     f"{rdMolDescriptors.CalcTPSA(mol):.2f}", f"{rdMolDescriptors.CalcLabuteASA(mol):.2f}",
                     f"{QED.qed(mol):.4f}", count_category(rdMolDescriptors.CalcNumRings(mol), 5),
                     count_category(Lipinski.NumHDonors(mol), 3), "yes" if halogen else "no"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nci_descriptors.csv"
        write_csv_table(path, header, rows)
        return table_dataset(path)


def count_category(count, top):
    """A small count as a category: "0", "1", ..., and "top+" for top or more."""
    return f"{top}+" if count >= top else str(count)


def print_table(rows, args):
    shortened = args.quick or args.max_epochs is not None
    print(f"\nDP-SGD, delta = {DELTA:g}, clipping norm {CLIP:g}, seed 0" + (" (shortened: not the numbers)"
                                                                          if shortened else ""))
    print("| data | epsilon | sigma | epochs | test negative ELBO (nats) | attack AUC | AUC bound | held-out - "
          "training (nats) | minutes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        eps = "inf (not private)" if math.isinf(r["eps"]) else f"{r['spent']:.2f}"
        cell = [r["data"], eps, "-" if r["sigma"] is None else f"{r['sigma']:.3f}", str(r["epochs"]),
                f"{r['test']:.2f}", "-" if r["auc"] is None else f"{r['auc']:.3f}",
                "-" if r["bound"] is None else f"{r['bound']:.3f}", "-" if r["gap"] is None else f"{r['gap']:.1f}",
                f"{r['seconds'] / 60:.1f}"]
        print("| " + " | ".join(cell) + " |")


def draw(rows, path):
    from matplotlib.figure import Figure

    from minivae.plots.images import save_figure

    names = ["MNIST", "NCI table"]
    fig = Figure(figsize=(13, 3.8))
    axes = fig.subplots(1, 3)
    labels = ["1", "3", "10", "inf\n(not private)"]
    for ax, name in zip(axes[:2], names):
        chosen = {r["eps"]: r["test"] for r in rows if r["data"] == name}
        if not chosen:
            ax.set_visible(False)
            continue
        values = [chosen.get(e) for e in (1.0, 3.0, 10.0, math.inf)]
        ax.plot(range(4), values, "o-")
        ax.set_xticks(range(4), labels)
        ax.set_xlabel("epsilon (delta = 1e-5)")
        ax.set_ylabel("test negative ELBO (nats)")
        ax.set_title(f"{name}: the cost of privacy")
    ax = axes[2]
    attack = {r["eps"]: r for r in rows if r["auc"] is not None}
    ax.plot(range(4), [attack[e]["auc"] for e in (1.0, 3.0, 10.0, math.inf)], "o-", label="loss-threshold attack")
    ax.plot(range(3), [attack[e]["bound"] for e in (1.0, 3.0, 10.0)], "s--", color="grey",
            label="the most any attack can reach")
    ax.axhline(0.5, color="black", lw=0.8, ls=":", label="chance")
    ax.set_xticks(range(4), labels)
    ax.set_ylim(0.45, 1.1)
    ax.set_xlabel("epsilon (delta = 1e-5)")
    ax.set_ylabel("membership ROC AUC")
    ax.set_title("who was trained on? (500 digits)")
    ax.legend(fontsize=8, loc="center")
    fig.tight_layout()
    save_figure(fig, path)


def draw_samples(models, path):
    """Four grids of 4 x 8 prior samples (decoder means), one per epsilon, from the same 32 codes."""
    import numpy as np
    from matplotlib.figure import Figure

    from minivae.plots.images import save_figure, tile_images

    fig = Figure(figsize=(13, 2.4))
    axes = fig.subplots(1, len(models))
    for ax, eps in zip(axes, sorted(models, reverse=True)):
        model = models[eps]
        z = np.random.default_rng(0).standard_normal((32, model.latent_dim)).astype(model.dtype)
        ax.imshow(tile_images(model.likelihood.mean(model.decoder.forward(z)), 4, 8), cmap="gray", vmin=0, vmax=1)
        ax.set_title("not private" if math.isinf(eps) else f"epsilon {eps:g}", fontsize=10)
        ax.axis("off")
    fig.suptitle("MNIST samples from the prior: the price of privacy is blur and speckle", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
