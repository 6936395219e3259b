"""Figures of numbers: the training curves of a run and the ROC curve of an anomaly score.

Each function takes plain numbers (a history dict, arrays of rates) rather than a model and returns a matplotlib
``Figure``; save it with ``minivae.plots.images.save_figure``.
"""
import numpy as np
from matplotlib.ticker import MaxNLocator

from minivae.plots.images import new_figure

_HISTORY_PANELS = (("loss", "Loss (negative ELBO)"), ("reconstruction", "Reconstruction"), ("kl", "KL"))


def _history_column(history, key, length):
    """history[key] as a float array with NaN where the value is missing or None (all NaN if the key is absent)."""
    column = history.get(key)
    if column is None:
        return np.full(length, np.nan)
    return np.array([np.nan if v is None else float(v) for v in column], dtype=np.float64)


def plot_history(history):
    """Training curves: loss, reconstruction and KL, each for the training and the validation set, per epoch.

    history : dict of equal-length lists, keys "epoch", "train_loss", "train_reconstruction", "train_kl",
    "val_loss", "val_reconstruction", "val_kl" and "active_units". Any key may be missing and any value None
    (validation every few epochs, say); curves connect the values that are there. Without "epoch" the epochs are
    numbered 1, 2, .... All terms are batch means, in nats per example.

    Returns a Figure with three axes, plus a fourth (active units) when "active_units" has values.

    Example
    -------
    >>> save_figure(plot_history(trainer.history), "history.png")
    """
    if not isinstance(history, dict):
        raise TypeError(f"history must be a dict of lists (keys such as 'train_loss'), got {type(history).__name__}")
    lengths = {k: len(v) for k, v in history.items() if v is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"every list in history must have the same length, got {lengths}")
    length = next(iter(lengths.values()), 0)
    epochs = _history_column(history, "epoch", length)
    if "epoch" not in history or np.isnan(epochs).any():
        epochs = np.arange(1, length + 1, dtype=np.float64)
    active = _history_column(history, "active_units", length)
    has_active = bool(np.isfinite(active).any())

    n_panels = 3 + has_active
    fig = new_figure(3.6 * n_panels, 3.4)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    for ax, (term, title) in zip(axes, _HISTORY_PANELS):
        drawn = 0
        for split, style in (("train", "-"), ("val", "--")):
            values = _history_column(history, f"{split}_{term}", length)
            there = np.isfinite(values)
            if there.any():
                ax.plot(epochs[there], values[there], style, marker="o", markersize=3,
                        label="training" if split == "train" else "validation")
                drawn += 1
        _finish_panel(ax, title, "nats per example", drawn)
    if has_active:
        there = np.isfinite(active)
        axes[3].plot(epochs[there], active[there], "-", marker="o", markersize=3, color="tab:green")
        axes[3].set_ylim(0, np.nanmax(active) + 1)
        axes[3].yaxis.set_major_locator(MaxNLocator(integer=True))
        _finish_panel(axes[3], "Active units (Var of mu > 0.01)", "latent units", 0)
    return fig


def _finish_panel(ax, title, ylabel, n_curves):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if n_curves:
        ax.legend(fontsize=8, frameon=False)
    elif not ax.lines:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")


def plot_roc(fpr, tpr, auc=None):
    """A receiver operating characteristic curve, e.g. of an anomaly score (such as the negative ELBO).

    fpr, tpr : (K,) false and true positive rates in [0, 1], in the order of decreasing threshold
    auc : the area under the curve, written in the legend if given.
    The dotted diagonal is a score that ranks at random (AUC 0.5). Returns a Figure with one axes.

    Example
    -------
    >>> save_figure(plot_roc(fpr, tpr, auc=0.93), "roc.png")
    """
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if fpr.ndim != 1 or fpr.shape != tpr.shape or len(fpr) < 2:
        raise ValueError(f"fpr and tpr must be 1-D arrays of the same length >= 2, got shapes {fpr.shape} and "
                         f"{tpr.shape}")
    for name, rate in (("fpr", fpr), ("tpr", tpr)):
        if not np.isfinite(rate).all() or rate.min() < 0 or rate.max() > 1:
            raise ValueError(f"{name} must hold rates in [0, 1], got values in [{rate.min():g}, {rate.max():g}]")
    fig = new_figure(4.6, 4.4)
    ax = fig.add_subplot()
    label = "ROC" if auc is None else f"ROC (AUC = {float(auc):.3f})"
    ax.plot(fpr, tpr, color="tab:blue", label=label)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance (AUC = 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig
