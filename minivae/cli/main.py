"""The command line: ``python -m minivae COMMAND --help``.

    train        the main job: train a VAE (default: 2-D latent, bundled MNIST) and write checkpoint, history, figures
    evaluate     test ELBO and its parts (and the importance-weighted bound) of a checkpoint
    sample       images sampled from the prior
    reconstruct  test images and their reconstructions
    manifold     the decoder on a grid of latent codes (Kingma & Welling 2013, Fig. 4)
    interpolate  decode the path between two test images (linear and spherical)
    traverse     vary one latent dimension at a time
    anomaly      anomaly scores of test examples (negative ELBO, reconstruction error, IW bound), ROC AUC
    impute       fill in missing pixels of test images (iterative or Metropolis-within-Gibbs) vs mean imputation
    synthesize   write N synthetic examples (images, or table rows for a model trained with --table) to a file
    gradcheck    finite-difference check of every layer and of whole models: a table of relative errors
    make-assignment  write the student version of the exercises (solutions replaced by TODOs)
    grade        grade a student's exercises file: per-exercise pass/fail, relative error, hints, score

Every command that reads a checkpoint takes its path as first argument; figures go to --out (a PNG path).
"""
import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

DEFAULT_OUT = "runs/mnist-vae-2d"


# -- helpers ---------------------------------------------------------------------------------------------------------


def _hidden(text):
    """'512' or '400,200' -> (512,) or (400, 200)."""
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden sizes must be integers separated by commas, got {text!r}")
    return sizes


def _loading(args):
    """The options of load_dataset that the data options set."""
    return dict(cache_dir=getattr(args, "cache_dir", None), download=not getattr(args, "no_download", False),
                rescale=getattr(args, "rescale", False))


def _data_of_checkpoint(ckpt, args):
    from minivae.training.run_data import data_of_checkpoint

    return data_of_checkpoint(ckpt, args.data, **_loading(args))


def _image_shape(ckpt, data=None):
    shape = ckpt.extra.get("image_shape") or (data.image_shape if data is not None else None)
    if shape is None:
        raise SystemExit("this checkpoint's data are not images; the image commands do not apply to it")
    return tuple(shape)


def _save(fig, path):
    from minivae.plots.figures import save_figure

    save_figure(fig, path)
    print(f"wrote {path}")


def _load(path):
    from minivae.training.checkpoint import load_checkpoint

    return load_checkpoint(path)


# -- train -----------------------------------------------------------------------------------------------------------


def build_model_from_args(args, data):
    """The model that the train options describe."""
    from minivae.models.vae import VAE, Autoencoder

    common = dict(latent_dim=args.latent, hidden=args.hidden, likelihood=args.likelihood,
                  activation=args.activation, seed=args.seed)
    d = data.x_train.shape[1]
    if args.model == "vae":
        return VAE(d, **common)
    if args.model == "ae":
        return Autoencoder(d, **common)
    if args.model == "conv":
        from minivae.models.conv_vae import ConvVAE

        if data.image_shape is None:
            raise SystemExit("--model conv needs image data (N, H, W)")
        return ConvVAE(latent_dim=args.latent, image_shape=tuple(data.image_shape), likelihood=args.likelihood,
                       seed=args.seed)
    if args.model == "cvae":
        from minivae.models.cvae import ConditionalVAE

        if data.y_train is None:
            raise SystemExit("--model cvae needs labelled data")
        from minivae.datasets.labels import n_classes

        return ConditionalVAE(d, n_classes=n_classes(data), **common)
    raise SystemExit(f"unknown model {args.model!r}")


def cmd_train(args):
    from minivae.training.run_data import run_record, training_data
    from minivae.training.trainer import TrainConfig, Trainer, TrainingDiverged

    out = Path(args.out)
    checkpoint = out / "checkpoint.npz"
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         beta=args.beta, warmup_steps=args.warmup, free_bits=args.free_bits, binarize=args.binarize,
                         corruption=args.corruption, clip_norm=args.clip_norm, iw_samples=args.iw_samples,
                         seed=args.seed, quiet=args.quiet)
    if args.resume:
        trainer = Trainer.from_checkpoint(args.resume, config)
        record = trainer.extra
        data = training_data(record.get("dataset", args.data), table_encoder=record.get("table_encoder"),
                             exclude_classes=record.get("exclude_classes", []), **_loading(args))
        print(f"resuming {args.resume} at epoch {trainer.epoch}")
    else:
        dataset = args.table or args.data
        data = training_data(dataset, table=bool(args.table), categorical=args.categorical,
                             exclude_classes=args.exclude_classes, **_loading(args))
        if args.table:
            args.likelihood = {"name": "mixed", "columns": data.encoder.column_specs()}
        trainer = Trainer(build_model_from_args(args, data), config)
        trainer.extra = run_record(data, dataset, args.exclude_classes)
    print(f"{trainer.model}\ndata: {data.name}, {len(data.x_train)} train / {len(data.x_test)} test examples")
    t0 = time.perf_counter()
    try:
        history = trainer.fit(data.x_train, data.x_test, data.y_train, data.y_test, checkpoint_path=checkpoint)
    except TrainingDiverged as err:
        raise SystemExit(f"error: {err}")
    except KeyboardInterrupt:
        raise SystemExit(130)
    seconds = time.perf_counter() - t0
    _write_json(out / "history.json", history)
    _write_json(out / "config.json", {"model": trainer.model.config(), "train": asdict(config),
                                      "dataset": trainer.extra.get("dataset")})
    if not args.no_figures:
        from minivae.plots.run_figures import write_run_figures

        write_run_figures(trainer.model, data, history, args.figures_dir or out / "figures", seed=args.seed)
    last = history["val_loss"][-1] if history["val_loss"] else None
    print(f"done in {seconds:.0f} s: test negative ELBO {last:.2f} nats" if last is not None else "done")
    print(f"outputs in {out}/ (checkpoint.npz, history.json, config.json, figures/)")


def _write_json(path, obj):
    from minivae.fileio import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


# -- commands that read a checkpoint ---------------------------------------------------------------------------------


def cmd_evaluate(args):
    ckpt = _load(args.checkpoint)
    data = _data_of_checkpoint(ckpt, args)
    model, x = ckpt.model, data.x_test
    rng = np.random.default_rng(args.seed)
    if not hasattr(model, "elbo"):
        rec = model.reconstruction_error(x)
        print(f"{data.name} test set ({len(x)} examples): reconstruction loss {rec.mean():.2f} nats")
        return
    kwargs = {"y": data.y_test} if getattr(model, "conditional", False) else {}
    terms = model.elbo(x, rng=rng, **kwargs)
    d = x.shape[1]
    print(f"{data.name} test set ({len(x)} examples), nats per example:")
    print(f"  negative ELBO   {-terms.elbo.mean():9.2f}   ({-terms.elbo.mean() / (d * np.log(2)):.4f} bits/dim)")
    print(f"  reconstruction  {terms.reconstruction.mean():9.2f}")
    print(f"  KL              {terms.kl.mean():9.2f}")
    if args.k > 0 and not kwargs:
        from minivae.apps.evaluation import importance_weighted_bound

        iw = importance_weighted_bound(model, x, k=args.k, rng=rng)
        print(f"  -log p(x) <= {-iw.mean():.2f}   (importance-weighted bound, K = {args.k})")


def cmd_sample(args):
    from minivae import plots

    ckpt = _load(args.checkpoint)
    _save(plots.plot_samples(ckpt.model, np.random.default_rng(args.seed), n=args.n,
                             image_shape=_image_shape(ckpt)), args.out)


def cmd_reconstruct(args):
    from minivae import plots

    ckpt = _load(args.checkpoint)
    data = _data_of_checkpoint(ckpt, args)
    _save(plots.plot_reconstructions(ckpt.model, data.x_test, n=args.n, image_shape=_image_shape(ckpt, data)),
          args.out)


def cmd_manifold(args):
    from minivae import plots

    ckpt = _load(args.checkpoint)
    _save(plots.plot_latent_manifold(ckpt.model, n=args.n, dims=tuple(args.dims), image_shape=_image_shape(ckpt)),
          args.out)


def cmd_interpolate(args):
    from minivae import plots

    ckpt = _load(args.checkpoint)
    data = _data_of_checkpoint(ckpt, args)
    x = data.x_test
    _save(plots.plot_interpolation(ckpt.model, x[args.a], x[args.b], n=args.n,
                                   image_shape=_image_shape(ckpt, data)), args.out)


def cmd_traverse(args):
    from minivae import plots

    ckpt = _load(args.checkpoint)
    data = _data_of_checkpoint(ckpt, args)
    values = np.linspace(-args.range, args.range, args.n)
    _save(plots.plot_traversal(ckpt.model, data.x_test[args.index], values=values,
                               image_shape=_image_shape(ckpt, data)), args.out)


# -- applications ------------------------------------------------------------------------------------------------------


def cmd_anomaly(args):
    from minivae import plots
    from minivae.apps.anomaly import anomaly_scores, roc_auc, roc_curve

    ckpt = _load(args.checkpoint)
    data = _data_of_checkpoint(ckpt, args)
    scores = anomaly_scores(ckpt.model, data.x_test, method=args.method, rng=np.random.default_rng(args.seed),
                            k=args.k)
    top = np.argsort(-scores)[:5]
    print(f"anomaly scores ({args.method}, nats) of {len(scores)} test examples of {data.name}: "
          f"median {np.median(scores):.2f}, 99th percentile {np.percentile(scores, 99):.2f}")
    print("most anomalous test examples: " + ", ".join(f"#{i} ({scores[i]:.1f})" for i in top))
    if args.scores:
        from minivae.apps.synthetic import save_synthetic

        save_synthetic(args.scores, scores[:, None], data.y_test)
        print(f"wrote {args.scores}")
    if args.anomalous_class is not None:
        if data.y_test is None:
            raise ValueError("--anomalous-class needs labelled test data")
        is_anomaly = data.y_test == args.anomalous_class
        auc = roc_auc(scores, is_anomaly)
        print(f"class {args.anomalous_class} as the anomaly: ROC AUC {auc:.3f} "
              f"({is_anomaly.sum()} anomalies, {len(scores) - is_anomaly.sum()} normal)")
        fpr, tpr, _ = roc_curve(scores, is_anomaly)
        _save(plots.plot_roc(fpr, tpr, auc), args.out)


def cmd_impute(args):
    from minivae import plots
    from minivae.apps.imputation import impute, imputation_error, mean_imputation, missing_mask

    ckpt = _load(args.checkpoint)
    data = _data_of_checkpoint(ckpt, args)
    rng = np.random.default_rng(args.seed)
    x = data.x_test[:args.n]
    mask = missing_mask(args.missing, x.shape, ckpt.extra.get("image_shape"), args.fraction, rng)
    x_vae = impute(ckpt.model, np.where(mask, x, np.nan), mask, method=args.method, rng=rng)
    x_mean = mean_imputation(np.where(mask, x, np.nan), mask)
    print(f"mean squared error on the missing entries of {len(x)} test examples ({args.missing} missing):")
    print(f"  VAE ({args.method}) {imputation_error(x, x_vae, mask):.4f}   "
          f"mean imputation {imputation_error(x, x_mean, mask):.4f}")
    if ckpt.extra.get("image_shape"):
        _save(plots.plot_imputation(x, mask, x_vae, image_shape=tuple(ckpt.extra["image_shape"]),
                                    title=f"Imputation ({args.method})"), args.out)


def cmd_synthesize(args):
    from minivae.apps.synthetic import generate, save_synthetic

    ckpt = _load(args.checkpoint)
    model, rng = ckpt.model, np.random.default_rng(args.seed)
    if ckpt.extra.get("table_encoder"):
        from minivae.datasets.tables import TabularEncoder, synthesize, write_csv_table

        if not str(args.out).endswith(".csv"):
            raise ValueError("a model trained on a table writes table rows: give an --out ending in .csv")
        encoder = TabularEncoder.from_dict(ckpt.extra["table_encoder"])
        write_csv_table(args.out, encoder.header, synthesize(model, encoder, args.n, rng))
    elif getattr(model, "conditional", False):
        labels = np.arange(args.n) % model.n_classes  # the classes in turn
        save_synthetic(args.out, model.sample(args.n, rng, labels), labels)
    else:
        save_synthetic(args.out, generate(model, args.n, rng, binarize=args.binarize, draw=args.draw))
    print(f"wrote {args.n} synthetic examples to {args.out}")


# -- gradcheck ---------------------------------------------------------------------------------------------------------


def cmd_gradcheck(args):
    from minivae.teaching.gradcheck_table import gradcheck_table

    rows = gradcheck_table(args.seed)
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'w.r.t.':<14} {'rel. error':>10}  ok (< {args.tol:g})")
    for what, param, err in rows:
        print(f"{what:<{width}}  {param:<14} {err:10.2e}  {'yes' if err < args.tol else 'NO'}")
    worst = max(r[2] for r in rows)
    print(f"\n{len(rows)} gradients checked, worst relative error {worst:.2e}")
    if worst >= args.tol:
        raise SystemExit(1)


# -- the parser ------------------------------------------------------------------------------------------------------


def _add_data_options(p, default=None):
    p.add_argument("--data", default=default, help="bundled 'mnist-test-10k', 'mnist', 'fashion-mnist' (downloaded) "
                   "or a path to .npy/.npz/.csv" + ("" if default else " (default: the checkpoint's dataset)"))
    p.add_argument("--cache-dir", default=None, help="download folder (default $MINIVAE_CACHE_DIR or ~/.cache/minivae)")
    p.add_argument("--no-download", action="store_true", help="never download; fail if the files are not cached")
    p.add_argument("--rescale", action="store_true", help="min-max rescale your own data to [0, 1]")


def make_parser():
    parser = argparse.ArgumentParser(prog="python -m minivae", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model (default: 2-D VAE on the bundled MNIST) and write figures",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_data_options(p, "mnist-test-10k")
    p.add_argument("--table", default=None, metavar="CSV", help="train on a CSV table (numeric and categorical "
                   "columns, a header row) with the mixed likelihood; synthesize then writes new rows")
    p.add_argument("--categorical", type=lambda t: [c for c in t.split(",") if c], default=[],
                   help="with --table: columns to treat as categories even if they hold numbers, e.g. 'group,year'")
    p.add_argument("--exclude-classes", type=lambda t: [int(c) for c in t.split(",") if c], default=[],
                   metavar="C1,C2", help="leave these labels out of training (they become the anomalies)")
    p.add_argument("--model", default="vae", choices=["vae", "ae", "conv", "cvae"],
                   help="VAE, plain autoencoder, convolutional VAE or conditional VAE")
    p.add_argument("--latent", type=int, default=2, help="latent size")
    p.add_argument("--hidden", type=_hidden, default=(512,), help="hidden sizes, e.g. 512 or 400,200")
    p.add_argument("--likelihood", default="bernoulli", choices=["bernoulli", "gaussian", "gaussian_learned"])
    p.add_argument("--activation", default="relu", choices=["relu", "leaky_relu", "tanh", "sigmoid", "softplus"])
    p.add_argument("--beta", type=float, default=1.0, help="KL weight (beta-VAE)")
    p.add_argument("--warmup", type=int, default=0, help="KL warm-up steps (beta grows linearly from 0)")
    p.add_argument("--free-bits", type=float, default=0.0, help="KL floor per latent dimension, nats")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adam", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"])
    p.add_argument("--binarize", default="none", choices=["none", "static", "dynamic"])
    p.add_argument("--corruption", type=float, default=0.0, help="denoising: fraction of input pixels zeroed")
    p.add_argument("--clip-norm", type=float, default=0.0, help="clip the gradient norm (0: off)")
    p.add_argument("--iw-samples", type=int, default=1, help="train on the importance-weighted bound with K "
                   "samples (IWAE; 1: the ELBO)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder")
    p.add_argument("--figures-dir", default=None, help="where the PNGs go (default OUT/figures)")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue from a checkpoint up to --epochs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    def checkpoint_command(name, func, help_text, out_name=None):
        q = sub.add_parser(name, help=help_text, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        q.add_argument("checkpoint", help="a checkpoint.npz written by train")
        if out_name:
            q.add_argument("--out", default=out_name, help="PNG file to write")
        q.add_argument("--seed", type=int, default=0)
        q.set_defaults(func=func)
        return q

    q = checkpoint_command("evaluate", cmd_evaluate, "test ELBO, its parts, and the importance-weighted bound")
    _add_data_options(q)
    q.add_argument("-k", type=int, default=0, help="importance samples for the IW bound (0: skip)")
    q = checkpoint_command("sample", cmd_sample, "samples from the prior", "samples.png")
    q.add_argument("-n", type=int, default=64, help="number of samples")
    q = checkpoint_command("reconstruct", cmd_reconstruct, "test images and reconstructions", "reconstructions.png")
    _add_data_options(q)
    q.add_argument("-n", type=int, default=10, help="number of images")
    q = checkpoint_command("manifold", cmd_manifold, "decoder outputs on a latent grid", "manifold.png")
    q.add_argument("-n", type=int, default=20, help="grid size")
    q.add_argument("--dims", type=int, nargs=2, default=[0, 1], help="the two latent dimensions of the slice")
    q = checkpoint_command("interpolate", cmd_interpolate, "path between two test images", "interpolation.png")
    _add_data_options(q)
    q.add_argument("-a", type=int, default=0, help="index of the first test image")
    q.add_argument("-b", type=int, default=1, help="index of the second test image")
    q.add_argument("-n", type=int, default=10, help="steps")
    q = checkpoint_command("traverse", cmd_traverse, "vary one latent dimension at a time", "traversal.png")
    _add_data_options(q)
    q.add_argument("--index", type=int, default=0, help="test image whose code is the base")
    q.add_argument("--range", type=float, default=3.0, help="values from -RANGE to RANGE")
    q.add_argument("-n", type=int, default=9, help="values per dimension")

    q = checkpoint_command("anomaly", cmd_anomaly, "anomaly scores of the test set, and ROC AUC for one class",
                           "roc.png")
    _add_data_options(q)
    q.add_argument("--method", default="elbo", choices=["elbo", "reconstruction", "iwae"])
    q.add_argument("-k", type=int, default=100, help="importance samples for --method iwae")
    q.add_argument("--anomalous-class", type=int, default=None, help="score this label against the rest (AUC, ROC)")
    q.add_argument("--scores", default=None, help="also write the scores (and labels) to this .npz/.npy/.csv")
    q = checkpoint_command("impute", cmd_impute, "fill in missing pixels of test images", "imputation.png")
    _add_data_options(q)
    q.add_argument("--missing", default="bottom", choices=["bottom", "right", "random"])
    q.add_argument("--fraction", type=float, default=0.5, help="with --missing random: fraction missing")
    q.add_argument("--method", default="iterative", choices=["iterative", "mcmc"])
    q.add_argument("-n", type=int, default=100, help="number of test images")
    q = checkpoint_command("synthesize", cmd_synthesize, "write synthetic examples to a file", "synthetic.npz")
    q.add_argument("-n", type=int, default=1000, help="number of examples")
    q.add_argument("--draw", action="store_true", help="draw x ~ p(x|z) instead of the decoder mean")
    q.add_argument("--binarize", action="store_true", help="threshold the images at 0.5")

    q = sub.add_parser("gradcheck", help="finite-difference check of every layer and whole models",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes")
    q.set_defaults(func=cmd_gradcheck)

    # These two have their own parsers (minivae/teaching/assignments.py, minivae/teaching/grading.py); listed so --help shows them.
    sub.add_parser("make-assignment", help="write the student version of the exercises", add_help=False)
    sub.add_parser("grade", help="grade a student's exercises file", add_help=False)
    return parser


def _delegated_commands():
    from minivae.teaching import assignments, grading

    return {"grade": grading.main_grade, "make-assignment": assignments.main_make_student}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("grade", "make-assignment"):
        return _delegated_commands()[argv[0]](argv[1:])
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:  # bad input, corrupt or missing files: a message, not a traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
