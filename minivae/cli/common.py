"""What the command groups share: one help format, the data options, the checkpoint commands' arguments.

    HelpFormatter           every option's help ends with its default, once
    add_command             a subcommand with that help format and the --debug flag (debug_option)
    add_data_options        --data, --cache-dir, --no-download, --rescale, --missing-values, --image-shape, and
                            ``loading(args)`` to pass them on
    add_checkpoint_command  a command that reads a checkpoint: CHECKPOINT, --out (default: next to it), --seed
    checkpoint_data         the checkpoint's test data as its model was validated (minivae.training.run_data)
    image_shape, save       the (H, W) of a checkpoint's images; write a figure and say so
"""
import argparse
from pathlib import Path

from minivae.cli import options
from minivae.datasets.missing import MISSING_CHOICES
from minivae.training.checkpoint import CheckpointError
from minivae.training.run_data import data_of_checkpoint


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, once: " (default: X)" is added unless the help already says it.

    Flags show "off", lists their items joined by commas ("none" when empty). An option whose default is None
    must say in its help what happens without it ("default: the checkpoint's dataset").
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if not action.option_strings or "default" in text or default is None or default is argparse.SUPPRESS:
            return text
        if default is False:
            shown = "off"
        elif isinstance(default, (list, tuple)):
            shown = ",".join(str(v) for v in default) or "none"
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})"


class TopLevelHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """The same, with the description of ``python -m minivae --help`` laid out as written (its paragraphs)."""


def debug_option(parser, default):
    """--debug: the traceback of an error instead of its one-line message."""
    parser.add_argument("--debug", action="store_true", default=default,
                        help="on an error, show the full traceback, not just the message")


def add_command(sub, name, help_text, run):
    """A subcommand whose parser has the shared help format and --debug; ``run(args)`` does its work."""
    parser = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
    debug_option(parser, argparse.SUPPRESS)  # SUPPRESS: absent unless given, so a --debug before the command stays
    parser.add_argument("--threads", type=options.integer(minimum=1), metavar="N",
                        help="threads of the matrix products (default: $MINIVAE_THREADS, or a thread variable such as "
                             "OPENBLAS_NUM_THREADS already set, or else the cores no other program keeps busy)")
    parser.set_defaults(run=run)
    return parser


def add_data_options(parser, default=None):
    """--data and what loading it needs; ``default`` None: the dataset recorded in the checkpoint."""
    parser.add_argument("--data", default=None,  # None: not given (a text run then reads the names)
                        help="bundled 'mnist-test-10k', 'mnist', 'fashion-mnist' (downloaded) or a path to "
                             ".npy/.npz/.csv/.csv.gz (labels: an .npz's y); for text, 'names' (bundled); for molecules, "
                             "'molecules' (RDKit's NCI set)"
                             + (f" (default: {default}; names for text)" if default else
                                " (default: the checkpoint's dataset)"))
    parser.add_argument("--cache-dir", default=None,
                        help="download folder (default: $MINIVAE_CACHE_DIR or ~/.cache/minivae)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download (and never delete a damaged cached file); fail if the files are not "
                             "cached")
    parser.add_argument("--rescale", action="store_true", help="min-max rescale your own data to [0, 1]")
    parser.add_argument("--missing-values", default=None, choices=(*MISSING_CHOICES, "keep"),
                        help="missing values (empty, n/a, NA, ?, nan cells; NaN in arrays) in your data or table: "
                             "refuse them with a report of where they are, drop the rows that have one, fill in "
                             "each column's mean (a categorical column's most frequent value), or for a table keep "
                             "them as nulls, which the model learns (default: error; keep for a table)")
    parser.add_argument("--image-shape", type=options.image_shape, default=None, metavar="H,W",
                        help="the rows of flat (N, D) data are H x W images, H * W = D, e.g. 8,8 (default: images "
                             "only if the file holds (N, H, W))")


def loading(args):
    """The keyword arguments of load_dataset (and table_dataset) that the data options set."""
    return dict(cache_dir=args.cache_dir, download=not args.no_download, rescale=args.rescale,
                missing=args.missing_values or "error", image_shape=args.image_shape)


def add_checkpoint_command(sub, name, help_text, run, out=None, out_help="PNG file to write"):
    """A command that reads a checkpoint: its path first, --out (if it writes a file) and --seed.

    ``out`` is the name of the file it writes by default, in the checkpoint's folder (``next_to_checkpoint``), so
    that a run's pictures stay with the run and not in whatever folder the command was started from.
    """
    parser = add_command(sub, name, help_text, run)
    parser.add_argument("checkpoint", help="a checkpoint.npz written by train")
    if out:
        parser.add_argument("--out", default=None, help=f"{out_help} (default: {out} in the checkpoint's folder)")
        parser.set_defaults(run=lambda args: run(next_to_checkpoint(args, out)))
    parser.add_argument("--seed", type=options.nonnegative_int, default=0, help="seed of the random draws")
    return parser


def next_to_checkpoint(args, name):
    """``args`` with --out set to ``<the checkpoint's folder>/<name>`` when it was not given (``args.out_given``
    says which)."""
    args.out_given = args.out is not None
    if args.out is None:
        args.out = str(Path(args.checkpoint).resolve().parent / name)
    return args


def text_out(args):
    """The markdown file a text command writes: --out as given (.md or .txt), or its default name with .md."""
    if not args.out_given:
        return str(Path(args.out).with_suffix(".md"))
    if Path(args.out).suffix.lower() not in (".md", ".txt"):
        raise ValueError(f"--out {args.out}: a text model's outputs are text; give a .md or .txt file")
    return args.out


def refuse_text(ckpt, command):
    """A ValueError for a command that has no meaning for a text model's checkpoint."""
    if ckpt.model.input_kind == "tokens":
        raise ValueError(f"this checkpoint's model is of text ({type(ckpt.model).__name__}): {command} does not apply "
                         "to it; text models have sample, reconstruct, interpolate and evaluate")


def checkpoint_data(ckpt, args):
    """The checkpoint's test data (or --data's), binarized as its model was validated on them."""
    return data_of_checkpoint(ckpt, args.data, **loading(args))


def checkpoint_vocabulary(ckpt):
    """The Vocabulary a text checkpoint recorded (its ids mean its tokens), or a CheckpointError."""
    from minivae.datasets.text import Vocabulary

    config = ckpt.extra.get("vocabulary")
    if not isinstance(config, dict) or not isinstance(config.get("tokens"), list):
        raise CheckpointError("this text model's checkpoint records no vocabulary, so its token ids cannot be "
                              "read as text; train it with python -m minivae train --model seq-vae")
    try:
        vocab = Vocabulary.from_config(config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"the checkpoint's vocabulary is damaged ({err})") from None
    if len(vocab) != ckpt.model.vocab_size:
        raise CheckpointError(f"the checkpoint's vocabulary has {len(vocab)} tokens but its model {ckpt.model.vocab_size}"
                              "; it was not written by minivae as it is")
    return vocab


def image_shape(ckpt, data=None):
    """(H, W) of the images a checkpoint's model was trained on; a clear error for data that are not images."""
    shape = ckpt.extra.get("image_shape") or (data.image_shape if data is not None else None)
    refuse_text(ckpt, "an image command")
    if shape is None:
        if ckpt.extra.get("table_encoder"):
            raise ValueError("this checkpoint's model is of a table, not of images: the image commands do not apply "
                             "to it; write new rows with synthesize, score rows with anomaly or evaluate")
        raise ValueError("this checkpoint's data are not images, so the image commands do not apply to it; give "
                         "the image shape of flat data when training (--image-shape H,W)")
    return tuple(shape)


def save(fig, path):
    """Write a figure and say where."""
    from minivae.plots import save_figure  # matplotlib loads only for the commands that draw

    save_figure(fig, path)
    print(f"wrote {path}")
