"""The commands that use a trained model: evaluate it, and the applications of ``minivae.apps``.

    evaluate     test ELBO and its parts, bits per dimension, and the importance-weighted bound
    anomaly      anomaly scores of the test set (negative ELBO, reconstruction error, IW bound), ROC AUC
    impute       fill in missing pixels of test images (iterative or Metropolis-within-Gibbs) vs mean imputation
    synthesize   N synthetic examples to .npz / .npy / .csv (labelled for a conditional VAE, table rows for a model
                 trained with --table)

Each one loads the checkpoint and its test set (binarized as the model was validated), calls the library and prints
what it measured; the figures (ROC curve, imputations) go to --out.
"""
import numpy as np

from minivae.apps.anomaly import anomaly_scores, roc_auc, roc_curve
from minivae.apps.evaluation import bits_per_dim, importance_weighted_bound
from minivae.apps.imputation import imputation_error, impute, mean_imputation, missing_mask
from minivae.apps.synthetic import generate, save_synthetic
from minivae.cli import distributed, molecules, options
from minivae.cli.privacy import privacy_line
from minivae.cli import tables as tables_cli
from minivae.cli import text
from minivae.cli.common import add_checkpoint_command, add_data_options, checkpoint_data, refuse_text, save
from minivae.datasets.tables import TabularEncoder, synthesize, write_csv_table
from minivae.training.checkpoint import load_checkpoint
from minivae.validation import MEMORY_LIMIT_BYTES, format_bytes

TEXT_K = 100  # the IW bound's samples for a text VAE when -k is not given: its NLL needs one
MAX_K = 100_000  # importance samples: the IWAE paper evaluates with 5,000; the gap to log p(x) shrinks like 1/K


def add_commands(sub):
    p = add_checkpoint_command(sub, "evaluate", "test ELBO and its parts (and the importance-weighted bound) of a "
                               "checkpoint", cmd_evaluate)
    add_data_options(p)
    p.add_argument("-k", type=options.integer(0, MAX_K), default=0,
                   help=f"importance samples for the IW bound, 0 (skip) to {MAX_K:,} (a text VAE: {TEXT_K} when 0, "
                        "its NLL is the bound)")
    p.add_argument("--n-samples", type=options.integer(2, 100_000), default=molecules.N_SAMPLES,
                   help="a molecule model: how many molecules to sample from the prior and judge with RDKit")
    p.add_argument("--temperature", type=options.nonnegative_float, default=1.0,
                   help="a molecule model: sample each token from softmax(logits / T); 0: greedy")

    p = add_checkpoint_command(sub, "anomaly", "anomaly scores of test examples (negative ELBO, reconstruction "
                               "error, IW bound), ROC AUC; or of every row of a table, streamed to a file",
                               cmd_anomaly, out="roc.png",
                               out_help="PNG file of the ROC curve (with --anomalous-class); with --table the scores' "
                                        "file: .parquet, .csv, delta:PATH or iceberg:CATALOG#NS.TABLE, or a folder "
                                        "(ending in /) of parts, part-000000.parquet, ..., one per row group (default: "
                                        "scores.parquet in the checkpoint's folder; with --distributed scores/)")
    add_data_options(p)
    p.add_argument("--table", default=None, metavar="SOURCE",
                   help="a table run: score every row of this table (a .csv, a Parquet file or folder, delta:, "
                        "iceberg:) batch by batch, and write the scores beside the row's key columns to --out "
                        "(default: the test rows of --data or the run's data, printed)")
    p.add_argument("--batch-rows", type=options.positive_int, default=65_536,
                   help="with --table: rows scored (and written) at a time")
    p.add_argument("--method", default=None, choices=["elbo", "reconstruction", "iwae"],
                   help="the score: negative ELBO, reconstruction error, or the negative importance-weighted bound "
                        "(default: elbo; reconstruction for an Autoencoder, which has no ELBO)")
    p.add_argument("-k", type=options.integer(1, MAX_K), default=100,
                   help=f"importance samples for --method iwae, 1 to {MAX_K:,}")
    p.add_argument("--anomalous-class", type=options.nonnegative_int, default=None,
                   help="score this label against the rest: ROC AUC and the ROC curve (default: scores only)")
    p.add_argument("--scores", default=None,
                   help="also write the scores (and labels) to this .npz/.npy/.csv (default: not written)")
    distributed.add_option(p, "with --table, rank r scores the row groups r, r + N, ... and writes each one's scores "
                              "as its own part of the folder --out")

    p = add_checkpoint_command(sub, "impute", "fill in missing pixels of test images (iterative or "
                               "Metropolis-within-Gibbs) vs mean imputation", cmd_impute, out="imputation.png",
                               out_help="PNG file of the imputed images (image data only)")
    add_data_options(p)
    p.add_argument("--missing", default=None, choices=["bottom", "right", "random"],
                   help="which values are missing: the bottom half of each image, the right half, or each at random "
                        "(a table: whole cells at random) (default: bottom for images, random otherwise)")
    p.add_argument("--fraction", type=options.real(above=0, maximum=1), default=0.5,
                   help="with --missing random: fraction missing, in (0, 1]")
    p.add_argument("--method", default="iterative", choices=["iterative", "mcmc"],
                   help="iterative (x_mis <- E[x_mis | z = mu], repeated) or mcmc (Metropolis-within-Gibbs)")
    p.add_argument("-n", type=options.positive_int, default=100, help="number of test images")

    p = add_checkpoint_command(sub, "synthesize", "write N synthetic examples (images, or table rows for a model "
                               "trained with --table) to a file", cmd_synthesize, out="synthetic.npz",
                               out_help="file to write: .npz, .npy or .csv; a model trained with --table writes rows "
                                        "with its table's schema to .parquet, .csv, delta:PATH (a new version) or "
                                        "iceberg:CATALOG#NS.TABLE (a new snapshot) (default: synthetic.npz, for a "
                                        "table synthetic.csv or .parquet as its source was, in the checkpoint's "
                                        "folder); a table run also writes a folder (ending in /) of parts, one per "
                                        "block of --batch-rows rows")
    p.add_argument("-n", type=options.positive_int, default=1000, help="number of examples")
    p.add_argument("--batch-rows", type=options.positive_int, default=65_536,
                   help="a table run: rows drawn (and written) at a time")
    p.add_argument("--draw", action="store_true", help="draw x ~ p(x|z) instead of the decoder mean")
    p.add_argument("--binarize", action="store_true", help="threshold the images at 0.5")
    distributed.add_option(p, "a table run: rank r draws the blocks r, r + N, ... of --batch-rows rows, each from its "
                              "own generator, into the folder --out")


def refuse_distributed(args, what):
    if args.distributed:
        raise ValueError(f"--distributed applies to {what}: the other examples are written by one process")


def cmd_evaluate(args):
    ckpt = load_checkpoint(args.checkpoint)
    data = checkpoint_data(ckpt, args)
    model, x = ckpt.model, data.x_test
    rng = np.random.default_rng(args.seed)
    if model.input_kind == "tokens":  # NLL per text and per token, perplexity (the IW bound for a VAE, K >= 1)
        text.evaluate_text(model, data, rng, args.k or TEXT_K)
        if molecules.is_molecular(data.encoder):  # and the RDKit metrics of molecules sampled from the prior
            molecules.evaluate_molecules(model, data, rng, args.n_samples, args.temperature)
        return
    if not model.probabilistic:  # an Autoencoder: no ELBO, only its reconstruction loss
        rec = model.reconstruction_error(x)
        print(f"{data.name} test set ({len(x)} examples): reconstruction loss {rec.mean():.2f} nats")
        return
    labels = data.y_test if model.conditional else None
    terms = model.elbo(x, rng=rng, condition=labels)
    neg_elbo = -terms.elbo.mean()
    print(f"{data.name} test set ({len(x)} examples), nats per example, lower is better; the ELBO terms are "
          f"estimated with one sample of z per example (--seed {args.seed}; another seed gives another estimate):")
    print(f"  negative ELBO   {neg_elbo:9.2f}   ({bits_per_dim(neg_elbo, x.shape[1]):.4f} bits/dim)  "
          "= reconstruction + KL; in expectation an upper bound on -log p(x)")
    print(f"  reconstruction  {terms.reconstruction.mean():9.2f}   -log p(x | z), z ~ q(z | x)")
    print(f"  KL              {terms.kl.mean():9.2f}   KL(q(z | x) || N(0, I)), exact")
    if args.k > 0:
        iw = importance_weighted_bound(model, x, k=args.k, rng=rng, condition=labels)
        print(f"  -log p(x) <= {-iw.mean():9.2f}   the importance-weighted bound with K = {args.k} samples: tighter")
    else:
        print("  (add -k 1000 for the tighter importance-weighted bound on -log p(x))")


def cmd_anomaly(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    refuse_text(ckpt, "anomaly")
    if args.table is not None:
        if args.anomalous_class is not None or args.scores:
            raise ValueError("--anomalous-class and --scores apply to the test examples, not to --table, whose "
                             "scores go to --out")
        return tables_cli.score_table(args, ckpt)
    refuse_distributed(args, "anomaly --table")
    data = checkpoint_data(ckpt, args)
    if args.anomalous_class is not None and data.y_test is None:
        raise ValueError("--anomalous-class needs labelled test data")
    rng = np.random.default_rng(args.seed)
    model = ckpt.model
    method = args.method or ("elbo" if model.probabilistic else "reconstruction")
    labels = data.y_test if model.conditional else None  # a conditional model scores p(x | y)
    if model.conditional and labels is None:
        raise ValueError(f"{type(model).__name__} scores p(x | y): its test data need labels")
    scores = anomaly_scores(model, data.x_test, method=method, rng=rng, k=args.k, condition=labels)  # (M,) nats
    top = np.argsort(-scores)[:5]
    print(f"anomaly scores ({method}, nats) of {len(scores)} test examples of {data.name}: "
          f"median {np.median(scores):.2f}, 99th percentile {np.percentile(scores, 99):.2f}")
    print("most anomalous test examples: " + ", ".join(f"#{i} ({scores[i]:.1f})" for i in top))
    if args.scores:
        save_synthetic(args.scores, scores[:, None], data.y_test)
        print(f"wrote {args.scores}")
    if args.anomalous_class is not None:
        if args.anomalous_class not in ckpt.extra.get("exclude_classes", []):
            print(f"note: class {args.anomalous_class} was in this model's training data, so it is not an anomaly "
                  f"to the model; to score it as one, train with --exclude-classes {args.anomalous_class}")
        is_anomaly = data.y_test == args.anomalous_class
        auc = roc_auc(scores, is_anomaly)
        print(f"class {args.anomalous_class} as the anomaly: ROC AUC {auc:.3f} "
              f"({is_anomaly.sum()} anomalies, {len(scores) - is_anomaly.sum()} normal)")
        fpr, tpr, _ = roc_curve(scores, is_anomaly)
        save(plots.plot_roc(fpr, tpr, auc), args.out)


def cmd_impute(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    refuse_text(ckpt, "impute")
    data = checkpoint_data(ckpt, args)
    rng = np.random.default_rng(args.seed)
    shape = ckpt.extra.get("image_shape")
    encoder = ckpt.extra.get("table_encoder")
    blocks = [c["size"] for c in tables_cli.column_specs(ckpt)] if encoder else None  # cells
    kind = args.missing or ("bottom" if shape else "random")
    x = data.x_test[:args.n]  # (n, D)
    mask = missing_mask(kind, x.shape, shape, args.fraction, rng, blocks=blocks)  # (n, D), True = observed
    x_vae = impute(ckpt.model, np.where(mask, x, np.nan), mask, method=args.method, rng=rng)
    x_mean = mean_imputation(np.where(mask, x, np.nan), mask)
    where = "encoded entries (standardised numbers, one-hot categories)" if encoder else "entries"
    print(f"mean squared error on the missing {where} of {len(x)} test examples ({kind} missing):")
    print(f"  {type(ckpt.model).__name__} ({args.method}) {imputation_error(x, x_vae, mask):.4f}   "
          f"mean imputation {imputation_error(x, x_mean, mask):.4f}")
    if shape:
        save(plots.plot_imputation(x, mask, x_vae, image_shape=tuple(shape), title=f"Imputation ({args.method})"),
             args.out)


def cmd_synthesize(args):
    ckpt = load_checkpoint(args.checkpoint)
    refuse_text(ckpt, "synthesize")
    model, rng = ckpt.model, np.random.default_rng(args.seed)
    need = 2 * args.n * model.input_dim * np.dtype(model.dtype).itemsize  # the samples, and their copy on saving
    if need > MEMORY_LIMIT_BYTES:
        raise ValueError(f"-n {args.n} examples of {model.input_dim} values would need about {format_bytes(need)}, "
                         f"more than the limit of {format_bytes(MEMORY_LIMIT_BYTES)}; write them in several runs "
                         "(with different --seed values)")
    if tables_cli.table_of(ckpt)[0] is not None:  # a model of a table: rows with the table's schema
        return tables_cli.synthesize_table(args, ckpt)
    refuse_distributed(args, "synthesize of a model trained with --table")
    if ckpt.extra.get("table_encoder"):  # a model of a table of minivae 0.2: new rows, decoded by its encoder
        if not str(args.out).endswith(".csv"):
            raise ValueError("a model trained on a table writes table rows: give an --out ending in .csv")
        encoder = TabularEncoder.from_dict(ckpt.extra["table_encoder"])
        write_csv_table(args.out, encoder.header, synthesize(model, encoder, args.n, rng))
    elif model.conditional:
        labels = np.arange(args.n) % model.n_classes  # the classes in turn
        save_synthetic(args.out, model.sample(args.n, rng, condition=labels), labels)
    else:
        save_synthetic(args.out, generate(model, args.n, rng, binarize=args.binarize, draw=args.draw))
    print(f"wrote {args.n} synthetic examples to {args.out}")
    line = privacy_line(ckpt, "these examples")
    if line:
        print(line)
