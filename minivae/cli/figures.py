"""The figure commands: pictures of a trained model, each a PNG drawn by a function of ``minivae.plots``.

    sample       images decoded from z ~ N(0, I)
    reconstruct  test images over their reconstructions
    manifold     the decoder on a grid of latent codes (Kingma & Welling 2013, Fig. 4)
    interpolate  the decoded path between two test images, linear and spherical
    traverse     one latent dimension at a time varied around the code of a test image

Each one loads the checkpoint (and its test set, binarized as the model was validated), calls one plot function
and saves the figure to --out, by default next to the checkpoint (``sample runs/demo/checkpoint.npz`` writes
runs/demo/samples.png). ``minivae.plots`` is imported inside the commands: matplotlib loads only when a
figure is drawn.
"""
from pathlib import Path

import numpy as np

from minivae.cli import molecules, options
from minivae.cli import text
from minivae.cli.common import (add_checkpoint_command, add_data_options, checkpoint_data, checkpoint_vocabulary,
                                image_shape, save, text_out)
from minivae.training.checkpoint import load_checkpoint

# The most images one figure shows: beyond these it is too large to look at (and to hold in memory).
MAX_SAMPLES, MAX_GRID, MAX_ROW = 2500, 100, 100


def add_commands(sub):
    p = add_checkpoint_command(sub, "sample", "images (or texts, or molecules) sampled from the prior", cmd_sample,
                               out="samples.png", out_help="PNG file to write (a text model: .md; a molecule "
                               "model: .smi, with its drawing beside it)")
    p.add_argument("-n", type=options.integer(1, MAX_SAMPLES), default=64,
                   help=f"number of samples, 1 to {MAX_SAMPLES}")
    p.add_argument("--temperature", type=options.nonnegative_float, default=1.0,
                   help="text models: sample each token from softmax(logits / T); 0: greedy")
    p.add_argument("--beam-width", type=options.integer(1, 100), default=None,
                   help="a text VAE: decode each z by beam search of this width instead (default: no beam search)")
    p.add_argument("--max-length", type=options.integer(2, 10_000), default=64,
                   help="text models: the longest text decoded, in tokens with <bos>")

    p = add_checkpoint_command(sub, "reconstruct", "test images (or texts) and their reconstructions",
                               cmd_reconstruct, out="reconstructions.png", out_help="PNG file to write (a text "
                               "model: .md)")
    add_data_options(p)
    p.add_argument("-n", type=options.integer(1, MAX_ROW), default=10, help=f"number of images, 1 to {MAX_ROW}")
    p.add_argument("--beam-width", type=options.integer(1, 100), default=None,
                   help="a text VAE: reconstruct by beam search of this width (default: greedy)")

    p = add_checkpoint_command(sub, "manifold", "the decoder on a grid of latent codes (Kingma & Welling 2013, "
                               "Fig. 4)", cmd_manifold, out="manifold.png")
    p.add_argument("-n", type=options.integer(2, MAX_GRID), default=20,
                   help=f"grid size: n x n images, n from 2 to {MAX_GRID}")
    p.add_argument("--dims", type=options.nonnegative_int, nargs=2, default=[0, 1],
                   help="the two latent dimensions of the slice")

    p = add_checkpoint_command(sub, "interpolate", "decode the path between two test images (linear and "
                               "spherical), or the homotopy between two test texts", cmd_interpolate,
                               out="interpolation.png", out_help="PNG file to write (a text model: homotopy .md)")
    add_data_options(p)
    p.add_argument("-a", type=int, default=0, help="index of the first test image")
    p.add_argument("-b", type=int, default=1, help="index of the second test image")
    p.add_argument("-n", type=options.integer(2, MAX_ROW), default=10, help=f"steps, 2 to {MAX_ROW}")

    p = add_checkpoint_command(sub, "traverse", "vary one latent dimension at a time", cmd_traverse, out="traversal.png")
    add_data_options(p)
    p.add_argument("--index", type=int, default=0, help="test image whose code is the base")
    p.add_argument("--range", type=options.positive_float, default=3.0, help="values from -RANGE to RANGE")
    p.add_argument("-n", type=options.integer(1, MAX_ROW), default=9, help=f"values per dimension, 1 to {MAX_ROW}")


def _needs_posterior(ckpt, command):
    if not ckpt.model.probabilistic:
        raise ValueError(f"{command} decodes the code z of a text: a language model ({type(ckpt.model).__name__}) "
                         "has none; use a seq-vae checkpoint (an LM can sample and evaluate)")


def _test_image(data, index, option):
    """x_test[index] (D,), or an error that says which indices there are."""
    n = len(data.x_test)
    if not -n <= index < n:
        raise ValueError(f"{option} {index} is not an index of the test set, which has {n} examples (0 to {n - 1})")
    return data.x_test[index]


def cmd_sample(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    rng = np.random.default_rng(args.seed)
    if ckpt.model.input_kind == "tokens":
        vocab = checkpoint_vocabulary(ckpt)
        if molecules.is_molecular(vocab):  # molecules: the valid ones to a .smi file, and drawn
            out = args.out if args.out_given else str(Path(args.out).with_suffix(".smi"))
            return molecules.sample_to_smi(ckpt.model, vocab, rng, args.n, args.temperature, out)
        return text.write_document(text.sample_document(ckpt.model, vocab, rng, args.n, args.temperature,
                                                        args.beam_width, args.max_length), text_out(args))
    save(plots.plot_samples(ckpt.model, rng, n=args.n, image_shape=image_shape(ckpt)), args.out)


def cmd_reconstruct(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    data = checkpoint_data(ckpt, args)
    if ckpt.model.input_kind == "tokens":
        _needs_posterior(ckpt, "reconstruct")
        return text.write_document(text.reconstruction_document(ckpt.model, data.encoder, data.x_test[:args.n],
                                                                args.beam_width), text_out(args))
    labels = data.y_test if ckpt.model.conditional else None  # a conditional model is told each digit's class
    save(plots.plot_reconstructions(ckpt.model, data.x_test, n=args.n, image_shape=image_shape(ckpt, data),
                                    condition=labels),
         args.out)


def cmd_manifold(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    save(plots.plot_latent_manifold(ckpt.model, n=args.n, dims=tuple(args.dims), image_shape=image_shape(ckpt)),
         args.out)


def cmd_interpolate(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    data = checkpoint_data(ckpt, args)
    if ckpt.model.input_kind == "tokens":
        _needs_posterior(ckpt, "interpolate")
        return text.write_document(text.homotopy_document(ckpt.model, data.encoder, data.x_test, args.a, args.b,
                                                          args.n), text_out(args))
    x0, x1 = _test_image(data, args.a, "-a"), _test_image(data, args.b, "-b")
    save(plots.plot_interpolation(ckpt.model, x0, x1, n=args.n, image_shape=image_shape(ckpt, data)), args.out)


def cmd_traverse(args):
    from minivae import plots

    ckpt = load_checkpoint(args.checkpoint)
    data = checkpoint_data(ckpt, args)
    values = np.linspace(-args.range, args.range, args.n)  # (n,) the values each latent dimension takes in turn
    x = _test_image(data, args.index, "--index")
    save(plots.plot_traversal(ckpt.model, x, values=values, image_shape=image_shape(ckpt, data)), args.out)
