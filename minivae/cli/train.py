"""The ``train`` command, the main job: train a model and write its checkpoint, history, config and figures.

    python -m minivae train                          # 2-D VAE, 784-512-2, on the bundled MNIST, 50 epochs
    python -m minivae train --resume runs/mnist-vae-2d/checkpoint.npz --epochs 60

It reads top to bottom: the options become a TrainConfig and a model, the data come from
``minivae.training.run_data`` (which also records them in the checkpoint, so that a resumed run and the other
commands load the same data), the Trainer runs, and the outputs are written to --out:

    checkpoint.npz   everything needed to continue exactly (rewritten after every epoch)
    history.json     the losses per epoch        config.json   the model, training and data settings
    figures/         the PNGs of minivae.plots.run_figures (unless --no-figures)

A run owns its folder (minivae.training.run_folder): a second ``train`` into it is refused while the first runs,
and a new run is refused where one already is, unless it continues it (--resume) or replaces it (--overwrite).
``--resume`` continues with everything the checkpoint records: an option given with it that changes the run (other
than --epochs, the total) is refused.

    mpiexec -n 2 python -m minivae train --distributed ...   # data-parallel: each rank a shard of every batch

With ``--distributed`` every rank runs this command on the same data (``minivae.distributed.data_parallel``); rank 0
alone takes the folder's lock, writes the outputs and prints (the others' standard output is discarded). What only
rank 0 decides (the folder is free, its save worked) it broadcasts, and every rank raises the same error, so that
none is left waiting for the others.
"""
import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from minivae.cli import molecules as molecule_cli
from minivae.cli import options
from minivae.cli import privacy as privacy_cli
from minivae.cli import distributed as distributed_cli
from minivae.cli import tables as tables_cli
from minivae.cli import text as text_cli
from minivae.cli.common import add_command, add_data_options, loading
from minivae.datasets.dataset import check_test_set
from minivae.datasets.labels import n_classes
from minivae.fileio import atomic_write_bytes, remove_stale_temporaries
from minivae.models import VAE, Autoencoder, ConditionalVAE, ConvVAE
from minivae.training.checkpoint import load_checkpoint
from minivae.training.run_data import DEFAULT_DATASET, recorded_data, run_record, training_data
from minivae.training.run_folder import RunFolderLock, clear_run, existing_run
from minivae.training.trainer import TrainConfig, Trainer, recorded_config
from minivae.validation import check_training_memory

DEFAULT_OUT = "runs/mnist-vae-2d"

# The defaults of a new run, in one place. The options below default to None, so that a resumed run can tell an
# option given from one left out: left out, it keeps the value the run recorded.
NEW_RUN = dict(
    model="vae", latent=2, hidden=(512,), likelihood="bernoulli", activation="relu",     # the model
    beta=1.0, warmup=0, kl_schedule="linear", free_bits=0.0, iw_samples=1,                # the objective
    epochs=50, batch_size=128, lr=1e-3, lr_schedule="constant", lr_decay=1.0, optimizer="adam", binarize="none",
    corruption=0.0, clip_norm=0.0, seed=0,                                               # the optimisation
)
# option -> the TrainConfig field it sets (the others are the model's)
TRAIN_FIELDS = dict(beta="beta", warmup="warmup_steps", kl_schedule="kl_schedule", free_bits="free_bits",
                    iw_samples="iw_samples",
                    epochs="epochs", batch_size="batch_size", lr="lr", lr_schedule="lr_schedule",
                    lr_decay="lr_decay", optimizer="optimizer", binarize="binarize",
                    corruption="corruption", clip_norm="clip_norm", seed="seed")
MODEL_KINDS = {"VAE": "vae", "Autoencoder": "ae", "ConvVAE": "conv", "ConditionalVAE": "cvae",
               "SequenceVAE": "seq-vae", "SequenceLM": "seq-lm"}


def _shown(value):
    """A value as the command line writes it: (400, 200) -> 400,200."""
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _default(name):
    text = f" (default: {_shown(NEW_RUN[name])}" if name in NEW_RUN else " (default:"
    if name in text_cli.TEXT_RUN and text_cli.TEXT_RUN[name] != NEW_RUN.get(name):
        text += ("; " if name in NEW_RUN else " ") + f"{_shown(text_cli.TEXT_RUN[name])} for text"
    if name in molecule_cli.MOLECULE_RUN and molecule_cli.MOLECULE_RUN[name] != text_cli.TEXT_RUN.get(name):
        text += f"; {_shown(molecule_cli.MOLECULE_RUN[name])} for molecules"
    if name in tables_cli.TABLE_RUN and tables_cli.TABLE_RUN[name] != NEW_RUN.get(name) and name != "likelihood":
        text += f"; {_shown(tables_cli.TABLE_RUN[name])} for tables"
    return text + ")"


def _defaults_of(args):
    """The defaults of a new run: an image run's (NEW_RUN), a table run's (with cli/tables.py's TABLE_RUN), or a
    text run's (with cli/text.py's TEXT_RUN, and for molecules cli/molecules.py's MOLECULE_RUN)."""
    if tables_cli.is_table_run(args):
        return {**NEW_RUN, **tables_cli.TABLE_RUN}
    if not text_cli.is_text_run(args):
        return NEW_RUN
    molecules = molecule_cli.MOLECULE_RUN if molecule_cli.is_molecule_run(args, args.data) else {}
    return {**NEW_RUN, **text_cli.TEXT_RUN, **molecules, **(dict(warmup=0) if args.model == "seq-lm" else {})}


def add_commands(sub):
    p = add_command(sub, "train", "train a model (default: a VAE with a 2-D latent space on the bundled MNIST) and "
                    "write its checkpoint, history, config and figures", cmd_train)
    # data
    add_data_options(p, DEFAULT_DATASET)
    tables_cli.add_train_options(p)
    p.add_argument("--exclude-classes", type=options.class_labels, default=[], metavar="C1,C2",
                   help="leave these labels out of training (they become the anomalies)")
    text_cli.add_train_options(p)
    molecule_cli.add_train_options(p)
    # the model
    p.add_argument("--model", choices=["vae", "ae", "conv", "cvae", *text_cli.SEQUENCE_MODELS],
                   help="VAE, plain autoencoder, convolutional VAE, conditional VAE, or for text the sequence VAE "
                        "and its language-model baseline" + _default("model"))
    p.add_argument("--latent", type=options.latent_size, help="latent size" + _default("latent"))
    p.add_argument("--hidden", type=options.hidden_sizes, help="hidden sizes, e.g. 512 or 400,200 (not for conv; "
                   "one GRU size for text)" + _default("hidden"))
    p.add_argument("--likelihood", choices=["bernoulli", "gaussian", "gaussian_learned"],
                   help="what the decoder's outputs mean: pixel probabilities, a Gaussian mean with fixed variance, "
                        "or a Gaussian mean and log-variance (a table always gets the mixed likelihood)"
                        + _default("likelihood"))
    p.add_argument("--activation", choices=["relu", "leaky_relu", "tanh", "sigmoid", "softplus"],
                   help="nonlinearity of the hidden layers (not for conv)" + _default("activation"))
    # the objective
    p.add_argument("--beta", type=options.nonnegative_float, help="KL weight (beta-VAE)" + _default("beta"))
    p.add_argument("--warmup", type=options.nonnegative_int, help="KL annealing steps (beta grows from 0 to --beta)"
                   + _default("warmup"))
    p.add_argument("--kl-schedule", choices=["linear", "logistic"],
                   help="the shape of the KL annealing (minivae.training.kl_schedule)" + _default("kl_schedule"))
    p.add_argument("--free-bits", type=options.nonnegative_float, help="KL floor per latent dimension, nats" + _default("free_bits"))
    p.add_argument("--iw-samples", type=options.positive_int,
                   help="train on the importance-weighted bound with K samples (IWAE; 1: the ELBO)"
                        + _default("iw_samples"))
    # the optimisation
    p.add_argument("--epochs", type=options.nonnegative_int,
                   help="passes over the training set (with --resume: the total, counting those already done)"
                        + _default("epochs"))
    p.add_argument("--batch-size", type=options.positive_int, help="examples per gradient step" + _default("batch_size"))
    p.add_argument("--lr", type=options.positive_float, help="learning rate (with a schedule: of the first epoch)"
                   + _default("lr"))
    p.add_argument("--lr-schedule", choices=["constant", "exponential", "burda"],
                   help="how the learning rate falls epoch by epoch: not at all, by --lr-decay per epoch, or by "
                        "10^(-1/7) after 1, 3, 9, 27, ... epochs (minivae.training.lr_schedule)"
                        + _default("lr_schedule"))
    p.add_argument("--lr-decay", type=options.positive_float,
                   help="the exponential schedule's factor per epoch, in (0, 1), e.g. 0.995" + _default("lr_decay"))
    p.add_argument("--optimizer", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"],
                   help="the update rule (minivae.nn.optim)" + _default("optimizer"))
    p.add_argument("--binarize", choices=["none", "static", "dynamic"],
                   help="train on 0/1 pixels: threshold at 0.5 (static) or a fresh random draw each epoch (dynamic)"
                        + _default("binarize"))
    p.add_argument("--corruption", type=options.fraction, help="denoising: fraction of input pixels zeroed"
                   + _default("corruption"))
    p.add_argument("--clip-norm", type=options.nonnegative_float, help="clip the gradient norm (0: off)" + _default("clip_norm"))
    p.add_argument("--seed", type=options.nonnegative_int, help="seed of the initial weights, shuffling, noise and binarization"
                   + _default("seed"))
    privacy_cli.add_train_options(p)
    # the outputs
    p.add_argument("--out", default=None,
                   help=f"output folder (default: {DEFAULT_OUT}; with --resume, the checkpoint's folder)")
    p.add_argument("--figures-dir", default=None, help="where the PNGs go (default: OUT/figures)")
    p.add_argument("--no-figures", action="store_true", help="write no figures")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint up to --epochs, with the options it records: an option given "
                        "that changes them is refused (default: start a new run)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in --out even though it holds one, replacing it (its checkpoints, history, "
                        "config and figures are removed first)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    distributed_cli.add_option(p, "each rank computes the gradient of its shard of every batch, one Allreduce "
                                  "averages them, rank 0 writes the outputs")


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
    output_dim = 2 * d if likelihood == "gaussian_learned" else None  # a mean and a log-variance per value
    check_training_memory(d, args.hidden, args.latent, args.batch_size, output_dim=output_dim)  # before any array
    common = dict(latent_dim=args.latent, hidden=args.hidden, likelihood=likelihood, activation=args.activation,
                  seed=args.seed)
    if args.model == "cvae":
        if data.y_train is None:
            raise ValueError("--model cvae needs labelled data, e.g. --data mnist-test-10k")
        return ConditionalVAE(d, n_classes=n_classes(data), **common)
    return {"vae": VAE, "ae": Autoencoder}[args.model](d, **common)


def cmd_train(args):
    comm = distributed_cli.communicator(args)  # --distributed without mpiexec or mpi4py: a one-line error here
    with distributed_cli.stdout_of(comm):
        return resume(args, comm) if args.resume else _new_run(args, comm)


def _new_run(args, comm):
    """train without --resume: a new run in --out."""
    text_run = text_cli.is_text_run(args)
    if text_run:
        dataset, text_options = text_cli.check_text_run(args)
    else:
        text_cli.refuse_text_options(args)
        dataset, text_options = args.table or args.data or DEFAULT_DATASET, None
    if tables_cli.is_table_run(args):
        dataset = tables_cli.source_of(args.table)
    else:
        tables_cli.refuse_table_options(args)
    opts = argparse.Namespace(**{**vars(args), **{k: v for k, v in _defaults_of(args).items()
                                                  if getattr(args, k) is None}})
    out = Path(args.out or DEFAULT_OUT)
    if opts.epochs == 0:
        print("nothing to train: --epochs 0 asks for no epoch, so nothing was written")
        return
    if existing_run(out) and not args.overwrite:  # checked again under the lock; early, to say it before loading
        raise ValueError(_occupied(out))
    config = TrainConfig(**{field: getattr(opts, option) for option, field in TRAIN_FIELDS.items()},
                         quiet=args.quiet)
    private = privacy_cli.is_private(args)
    load = loading(args)
    table = {}
    if tables_cli.is_table_run(args):
        load["missing"] = args.missing_values or "keep"  # a table models its nulls unless told otherwise
        table = tables_cli.table_options(args, out)
    data = check_test_set(training_data(dataset, table=bool(args.table), exclude_classes=args.exclude_classes,
                                        text_options=text_options, **table, **load))
    if private:  # the noise for --dp-epsilon, and the checks that need N, before the model is built
        config = privacy_cli.private_config(args, config, len(data.x_train))
    model = text_cli.build_sequence_model(opts, data) if text_run else build_model_from_args(opts, data)
    trainer = Trainer(model, config, comm=comm)
    trainer.extra = run_record(data, dataset, args.exclude_classes, load, text_options)
    with distributed_cli.on_root(comm, RunFolderLock(out), lambda lock: _claim(out, lock, replace_run=args.overwrite)):
        _run(trainer, data, out, args)


def resume(args, comm=None):
    """train --resume CHECKPOINT: the run continues as its checkpoint records it, up to --epochs in total."""
    ckpt = load_checkpoint(args.resume)
    notes = []
    recorded = recorded_config(ckpt, notes)
    changes = _changed_options(args, ckpt, recorded) + privacy_cli.changed_options(args, recorded)
    if changes:
        listed = "; ".join(f"--{option.replace('_', '-')} {_shown(new)} (the run was trained with {_shown(old)})"
                           for option, old, new in changes)
        raise ValueError(f"cannot resume with changed options: {listed}. A resumed run continues as it was made: "
                         "only --epochs (the total) may change. Resume without them, or start a new run with "
                         "another --out")
    epochs = args.epochs if args.epochs is not None else recorded.epochs
    if epochs <= ckpt.epoch:
        print(f"nothing to do: {args.resume} has done {ckpt.epoch} epochs and --epochs {epochs} is the total; give "
              f"--epochs N with N > {ckpt.epoch} to train more (nothing was written)")
        return
    trainer = Trainer.from_checkpoint(ckpt, replace(recorded, epochs=epochs, quiet=args.quiet), comm=comm)
    name = tables_cli.source_of(args.table) if args.table else (args.text or args.data)
    data = recorded_data(ckpt.extra, name=name, strict=True, **loading(args))
    if name is not None and ckpt.extra.get("dataset_sha256") and Path(name).resolve() != Path(ckpt.extra["dataset"]):
        notes.append(f"note: the run's data file has moved to {Path(name).resolve()} (the same bytes); recorded there")
        trainer.extra["dataset"] = str(Path(name).resolve())  # strict recorded_data accepted it: the same SHA-256
    here = Path(args.resume).resolve().parent
    later = here / "checkpoint-interrupted.npz"
    if Path(args.resume).resolve() != later and later.exists():
        notes.append(f"note: {later} holds a later state of this run (saved on Ctrl-C); it is removed once this "
                     f"resumed run finishes an epoch. To continue from where the run stopped, resume from it instead")
    out = Path(args.out) if args.out else here

    def prepare(lock):
        if out.resolve() != here:  # continued into another folder: that one must be free
            _claim(out, lock, replace_run=args.overwrite)
        else:
            _tidy(out, lock)
        for note in notes:
            print(note, file=sys.stderr)

    with distributed_cli.on_root(trainer.comm, RunFolderLock(out), prepare):
        inside = (f", inside epoch {ckpt.epoch + 1} after batch {trainer.position['batches_done']}"
                  if trainer.position else "")
        print(f"resuming {args.resume} at epoch {ckpt.epoch}{inside}, up to {epochs}, with its recorded options: "
              f"{_describe(recorded)}")
        _run(trainer, data, out, args)


def _changed_options(args, ckpt, recorded):
    """[(option, recorded, given)] for every option given with --resume that differs from what the run recorded."""
    model = ckpt.model.config()
    kind = MODEL_KINDS.get(model.get("model"), model.get("model"))
    hidden = model.get("hidden") or ([model["hidden_dim"]] if "hidden_dim" in model else None)
    of_model = dict(model=kind, latent=model.get("latent_dim"), activation=model.get("activation"),
                    hidden=tuple(hidden) if hidden is not None else None,
                    likelihood=(model.get("likelihood") or {}).get("name"), embed=model.get("embed_dim"),
                    token_dropout=model.get("token_dropout"), z_every_step=model.get("z_every_step"))
    changes = []
    text_model = ckpt.model.input_kind == "tokens"
    for option in {**NEW_RUN, **text_cli.TEXT_RUN} if text_model else NEW_RUN:
        given = getattr(args, option)
        if given is None or option == "epochs":
            continue
        old = getattr(recorded, TRAIN_FIELDS[option]) if option in TRAIN_FIELDS else of_model[option]
        if given != old:
            changes.append((option, old, given))
    record = ckpt.extra
    if args.exclude_classes and args.exclude_classes != record.get("exclude_classes", []):
        changes.append(("exclude_classes", record.get("exclude_classes", []), args.exclude_classes))
    for option, recorded in (("categorical", "its recorded table encoder"), ("range", "its recorded table encoder"),
                             ("key", "its recorded key columns")):
        if getattr(args, option):
            changes.append((option, recorded, getattr(args, option)))
    return changes


def _describe(config):
    """The options of a run that differ from a new run's defaults, e.g. "batch size 32, lr 0.003"."""
    shown = [f"{option.replace('_', ' ')} {getattr(config, field)}" for option, field in TRAIN_FIELDS.items()
             if option != "epochs" and getattr(config, field) != NEW_RUN[option]]
    return ", ".join(shown + [privacy_cli.describe(config)] * config.private) or "the defaults"


def _occupied(out):
    names = ", ".join(p.name for p in existing_run(out))
    return (f"{out} already holds a run ({names}); continue it with  --resume {out / 'checkpoint.npz'}  (and "
            "--epochs N for more epochs), replace it with --overwrite, or choose another --out")


def _claim(out, lock, replace_run):
    """Under the lock: refuse a folder that holds another run, unless it is to be replaced."""
    if existing_run(out):
        if not replace_run:
            raise ValueError(_occupied(out))
        removed = clear_run(out)
        print(f"--overwrite: removed the run that was in {out} ({len(removed)} files)", file=sys.stderr)
    _tidy(out, lock)


def _tidy(out, lock):
    """Say that a stale lock was replaced, and remove the temporary files of saves that were killed."""
    if lock.stale_message():
        print(lock.stale_message(), file=sys.stderr)
    removed = remove_stale_temporaries(out)
    if removed:
        size = sum(s for _, s in removed) / 1e6
        print(f"note: removed {len(removed)} temporary files of interrupted saves in {out} ({size:.1f} MB)",
              file=sys.stderr)


def _run(trainer, data, out, args):
    """Train, then write the history, the config and the figures; the final line says what its number is."""
    print(f"{trainer.model}\ndata: {data.name}, {len(data.x_train)} train / {len(data.x_test)} test examples")
    choice = getattr(args, "thread_choice", None)  # set by cli/main.py (minivae/threads.py)
    threads = None if choice is None else {"count": choice.threads, "reason": choice.reason}
    if choice is not None:  # the count changes the last bits of some products: give --threads N to repeat a run
        print(f"threads: {'as set' if choice.threads is None else choice.threads} ({choice.reason})")
    t0 = time.perf_counter()
    history = trainer.fit(data.x_train, data.x_test, data.y_train, data.y_test, checkpoint_path=out / "checkpoint.npz")
    seconds = time.perf_counter() - t0
    if not trainer.comm.is_root:  # rank 0 writes the outputs
        return

    _write_json(out / "history.json", history)
    record = {k: v for k, v in trainer.extra.items() if k != "table_encoder"}
    privacy = trainer.privacy.record(trainer.step) if trainer.privacy is not None else None
    _write_json(out / "config.json", {"model": trainer.model.config(), "train": asdict(trainer.config),
                                      "dataset": trainer.extra.get("dataset"), "data": record, "privacy": privacy,
                                      "threads": threads})
    if not args.no_figures:
        from minivae.plots.run_figures import write_run_figures  # matplotlib loads only when figures are drawn

        folder = args.figures_dir or out / "figures"
        write_run_figures(trainer.model, data, history, folder, seed=trainer.config.seed)
        if trainer.model.input_kind == "tokens":  # text: samples, reconstructions and a homotopy, in markdown
            text_cli.write_text_outputs(trainer.model, data, folder, seed=trainer.config.seed)
        if trainer.model.input_kind == "tokens" and molecule_cli.is_molecular(data.encoder):
            molecule_cli.write_molecule_outputs(trainer.model, data, folder, seed=trainer.config.seed)
    rec, kl = history["val_reconstruction"][-1], history["val_kl"][-1]
    if trainer.model.input_kind == "tokens" and not trainer.model.probabilistic:
        print(f"done in {seconds:.0f} s: test NLL {rec:.3f} nats per text (exact: a language model)")
    elif not trainer.model.probabilistic:
        print(f"done in {seconds:.0f} s: test reconstruction loss {rec:.2f} nats per example")
    else:
        print(f"done in {seconds:.0f} s: test negative ELBO (one sample of z per example) {rec + kl:.2f} nats "
              f"(reconstruction {rec:.2f} + KL {kl:.2f})")
    if privacy is not None:
        print(f"privacy: epsilon {privacy['epsilon']:.3f} spent at delta {privacy['delta']:g} in {privacy['steps']} "
              "steps of DP-SGD; what it covers and what it does not: config.json's \"privacy\"")
    print(f"outputs in {out}/ (checkpoint.npz, history.json, config.json"
          + (")" if args.no_figures else ", figures/)"))


def _write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())
