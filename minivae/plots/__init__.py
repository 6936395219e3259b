"""Figures: each function takes arrays or a model and returns a matplotlib ``Figure``; ``save_figure`` writes it.

    figures       image grids, the latent manifold and scatter, reconstructions, samples, interpolations,
                  traversals, imputations, training curves, ROC curves

``from minivae import plots`` then ``plots.plot_samples(...)``, as in version 0.1.0. Importing this package loads
matplotlib, which the rest of minivae does not need.
"""
from minivae.plots.figures import (plot_history, plot_imputation, plot_interpolation, plot_latent_manifold,
                                   plot_latent_scatter, plot_reconstructions, plot_roc, plot_samples, plot_traversal,
                                   save_figure, tile_images)

__all__ = ["tile_images", "plot_latent_manifold", "plot_latent_scatter", "plot_reconstructions", "plot_imputation",
           "plot_samples", "plot_interpolation", "plot_traversal", "plot_history", "plot_roc", "save_figure"]
