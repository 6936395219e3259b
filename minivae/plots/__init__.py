"""Figures: each function takes arrays or a model and returns a matplotlib ``Figure``; ``save_figure`` writes it.

    images        tile_images, the helpers that draw a grid of images, and save_figure (atomic)
    latent        the latent manifold, the scatter of encoder means, interpolations, traversals
    generation    reconstructions, samples from the prior, imputations
    curves        training curves (loss, reconstruction, KL, active units) and ROC curves
    molecules     property_histograms and molecule_grid of generated molecules (needs RDKit)
    tables        plot_marginals and plot_correlations of a synthetic table against the real one

``from minivae import plots`` then ``plots.plot_samples(...)``, as in version 0.1.0. Importing this package loads
matplotlib, which the rest of minivae does not need.
"""
from minivae.plots.curves import plot_history, plot_roc
from minivae.plots.generation import plot_imputation, plot_reconstructions, plot_samples
from minivae.plots.images import save_figure, tile_images
from minivae.plots.latent import plot_interpolation, plot_latent_manifold, plot_latent_scatter, plot_traversal

__all__ = ["tile_images", "plot_latent_manifold", "plot_latent_scatter", "plot_reconstructions", "plot_imputation",
           "plot_samples", "plot_interpolation", "plot_traversal", "plot_history", "plot_roc", "save_figure"]
