"""The figures of a training run: what ``python -m minivae train`` writes to OUT/figures/ when training ends.

One PNG per figure, each drawn by a function of ``minivae.plots`` from the trained model and the test set:

    history.png           training and test loss per epoch, with the reconstruction and KL parts   (every model)
    reconstructions.png   10 test images over their reconstructions                               (images)
    samples.png           64 images decoded from z ~ N(0, I)                                      (images, VAE)
    manifold.png          the decoder on a 20 x 20 grid of latent codes (Kingma & Welling 2013, Fig. 4)
    interpolation.png     10 steps between the codes of the first two test images
    traversal.png         one latent dimension at a time varied around the code of the first test image
    latent_scatter.png    the encoder means of the test set, coloured by label         (models with an encoder)

A text model gets the history and the latent scatter (a VAE) here; its samples, reconstructions and homotopy are
text, written by ``minivae.cli.text.write_text_outputs``.

"images" means data with an ``image_shape``; manifold, interpolation and traversal need a sampler as well (a VAE,
not an Autoencoder). A conditional VAE gets the history only: its encoder and decoder also need a class.

Example
-------
>>> paths = write_run_figures(vae, load_dataset(), trainer.history, "runs/demo/figures")   # doctest: +SKIP
>>> [p.name for p in paths]                                                                # doctest: +SKIP
['history.png', 'reconstructions.png', 'samples.png', 'manifold.png', 'interpolation.png', 'traversal.png',
 'latent_scatter.png']
"""
from pathlib import Path

import numpy as np

from minivae import plots


def write_run_figures(model, data, history, folder, seed=0):
    """Draw the figures of a run (see the module docstring) and save them as PNG files in ``folder``.

    Parameters
    ----------
    model : the trained model    data : its Dataset (the test part x_test (M, D), y_test (M,) or None is drawn)
    history : the dict of lists that ``Trainer.fit`` returns    folder : where the PNGs go (created if needed)
    seed : the seed of the prior samples

    Returns
    -------
    list of Path, the files written, in the order of the table above.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    shape = data.image_shape
    x, y = data.x_test, data.y_test
    conditional = model.conditional
    figures = {"history.png": plots.plot_history(history)}
    if shape is not None and not conditional:
        figures["reconstructions.png"] = plots.plot_reconstructions(model, x, n=10, image_shape=shape)
        if model.probabilistic:
            figures["samples.png"] = plots.plot_samples(model, rng, n=64, image_shape=shape)
            figures["manifold.png"] = plots.plot_latent_manifold(model, n=20, image_shape=shape)
            figures["interpolation.png"] = plots.plot_interpolation(model, x[0], x[1], n=10, image_shape=shape)
            figures["traversal.png"] = plots.plot_traversal(model, x[0], image_shape=shape)
    if not conditional and (model.input_kind == "vectors" or model.probabilistic):  # a text LM has no encoder
        figures["latent_scatter.png"] = plots.plot_latent_scatter(model, x, y)
    paths = []
    for name, fig in figures.items():
        plots.save_figure(fig, folder / name)
        paths.append(folder / name)
    return paths
