"""The ``train`` command, the main job: train a model and write its checkpoint, history, config and figures.

    python -m minivae train                          # 2-D VAE, 784-512-2, on the bundled MNIST, 50 epochs
    python -m minivae train --resume runs/mnist-vae-2d/checkpoint.npz --epochs 60

It reads top to bottom: the options become a TrainConfig and a model, the data come from
``minivae.training.run_data`` (which also records them in the checkpoint, so that a resumed run and the other
commands load the same data), the Trainer runs, and the outputs are written to --out:

    checkpoint.npz   everything needed to continue exactly (rewritten after every epoch)
    history.json     the losses per epoch        config.json   the model and training settings
    figures/         the PNGs of minivae.plots.run_figures (unless --no-figures)
"""
import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from minivae.cli.common import add_command, add_data_options, loading
from minivae.datasets.labels import n_classes
from minivae.fileio import atomic_write_bytes
from minivae.models import VAE, Autoencoder, ConditionalVAE, ConvVAE
from minivae.training.run_data import DEFAULT_DATASET, run_record, training_data
from minivae.training.trainer import TrainConfig, Trainer

DEFAULT_OUT = "runs/mnist-vae-2d"


def _hidden(text):
    """'512' or '400,200' -> (512,) or (400, 200)."""
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden sizes must be integers separated by commas, got {text!r}")


def _classes(text):
    """'2,3' -> [2, 3]."""
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"classes must be integer labels separated by commas, got {text!r}")


def add_commands(sub):
    p = add_command(sub, "train", "train a model (default: a VAE with a 2-D latent space on the bundled MNIST) and "
                    "write its checkpoint, history, config and figures", cmd_train)
    # data
    add_data_options(p, DEFAULT_DATASET)
    p.add_argument("--table", default=None, metavar="CSV",
                   help="train on a CSV table (numeric and categorical columns, a header row) with the mixed "
                        "likelihood; synthesize then writes new rows (default: none, train on --data)")
    p.add_argument("--categorical", type=lambda t: [c for c in t.split(",") if c], default=[],
                   help="with --table: columns to treat as categories even if they hold numbers, e.g. 'group,year'")
    p.add_argument("--exclude-classes", type=_classes, default=[], metavar="C1,C2",
                   help="leave these labels out of training (they become the anomalies)")
    # the model
    p.add_argument("--model", default="vae", choices=["vae", "ae", "conv", "cvae"],
                   help="VAE, plain autoencoder, convolutional VAE or conditional VAE")
    p.add_argument("--latent", type=int, default=2, help="latent size")
    p.add_argument("--hidden", type=_hidden, default=(512,), help="hidden sizes, e.g. 512 or 400,200 (not for conv)")
    p.add_argument("--likelihood", default="bernoulli", choices=["bernoulli", "gaussian", "gaussian_learned"],
                   help="what the decoder's outputs mean: pixel probabilities, a Gaussian mean with fixed variance, "
                        "or a Gaussian mean and log-variance (a table always gets the mixed likelihood)")
    p.add_argument("--activation", default="relu", choices=["relu", "leaky_relu", "tanh", "sigmoid", "softplus"],
                   help="nonlinearity of the hidden layers (not for conv)")
    # the objective
    p.add_argument("--beta", type=float, default=1.0, help="KL weight (beta-VAE)")
    p.add_argument("--warmup", type=int, default=0, help="KL warm-up steps (beta grows linearly from 0)")
    p.add_argument("--free-bits", type=float, default=0.0, help="KL floor per latent dimension, nats")
    p.add_argument("--iw-samples", type=int, default=1,
                   help="train on the importance-weighted bound with K samples (IWAE; 1: the ELBO)")
    # the optimisation
    p.add_argument("--epochs", type=int, default=50,
                   help="passes over the training set (with --resume: the total, counting those already done)")
    p.add_argument("--batch-size", type=int, default=128, help="examples per gradient step")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--optimizer", default="adam", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"],
                   help="the update rule (minivae.nn.optim)")
    p.add_argument("--binarize", default="none", choices=["none", "static", "dynamic"],
                   help="train on 0/1 pixels: threshold at 0.5 (static) or a fresh random draw each epoch (dynamic)")
    p.add_argument("--corruption", type=float, default=0.0, help="denoising: fraction of input pixels zeroed")
    p.add_argument("--clip-norm", type=float, default=0.0, help="clip the gradient norm (0: off)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights, shuffling, noise and binarization")
    # the outputs
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder")
    p.add_argument("--figures-dir", default=None, help="where the PNGs go (default: OUT/figures)")
    p.add_argument("--no-figures", action="store_true", help="write no figures")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint up to --epochs (default: start a new run)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_model_from_args(args, data):
    """The model that the train options describe: --model picks the class, the other options are its arguments,
    the data give its input size D (and the image shape, the number of classes, a table's likelihood)."""
    d = data.x_train.shape[1]
    likelihood = args.likelihood
    if data.encoder is not None:  # a table: one Gaussian or categorical block per column
        likelihood = {"name": "mixed", "columns": data.encoder.column_specs()}
    if args.model == "conv":
        if data.image_shape is None:
            raise ValueError("--model conv needs image data (N, H, W); use --model vae for other data")
        return ConvVAE(latent_dim=args.latent, image_shape=tuple(data.image_shape), likelihood=likelihood,
                       seed=args.seed)
    common = dict(latent_dim=args.latent, hidden=args.hidden, likelihood=likelihood, activation=args.activation,
                  seed=args.seed)
    if args.model == "cvae":
        if data.y_train is None:
            raise ValueError("--model cvae needs labelled data, e.g. --data mnist-test-10k")
        return ConditionalVAE(d, n_classes=n_classes(data), **common)
    return {"vae": VAE, "ae": Autoencoder}[args.model](d, **common)


def cmd_train(args):
    out = Path(args.out)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         beta=args.beta, warmup_steps=args.warmup, free_bits=args.free_bits, binarize=args.binarize,
                         corruption=args.corruption, clip_norm=args.clip_norm, iw_samples=args.iw_samples,
                         seed=args.seed, quiet=args.quiet)
    if args.resume:  # the data the checkpoint records, not the options'
        trainer = Trainer.from_checkpoint(args.resume, config)
        record = trainer.extra
        data = training_data(record.get("dataset", args.data), table_encoder=record.get("table_encoder"),
                             exclude_classes=record.get("exclude_classes", []), **loading(args))
        print(f"resuming {args.resume} at epoch {trainer.epoch}")
    else:
        dataset = args.table or args.data
        data = training_data(dataset, table=bool(args.table), categorical=args.categorical,
                             exclude_classes=args.exclude_classes, **loading(args))
        trainer = Trainer(build_model_from_args(args, data), config)
        trainer.extra = run_record(data, dataset, args.exclude_classes)
    print(f"{trainer.model}\ndata: {data.name}, {len(data.x_train)} train / {len(data.x_test)} test examples")

    t0 = time.perf_counter()
    history = trainer.fit(data.x_train, data.x_test, data.y_train, data.y_test, checkpoint_path=out / "checkpoint.npz")
    seconds = time.perf_counter() - t0

    _write_json(out / "history.json", history)
    _write_json(out / "config.json", {"model": trainer.model.config(), "train": asdict(config),
                                      "dataset": trainer.extra.get("dataset")})
    if not args.no_figures:
        from minivae.plots.run_figures import write_run_figures  # matplotlib loads only when figures are drawn

        write_run_figures(trainer.model, data, history, args.figures_dir or out / "figures", seed=args.seed)
    last = history["val_loss"][-1] if history["val_loss"] else None
    print(f"done in {seconds:.0f} s: test negative ELBO {last:.2f} nats" if last is not None else "done")
    print(f"outputs in {out}/ (checkpoint.npz, history.json, config.json, figures/)")


def _write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())
