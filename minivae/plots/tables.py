"""Figures of a synthetic table against the real one: every column's distribution, and the correlations of the
numeric columns. The pictures behind the scores of ``minivae.tables.quality``.

``plot_marginals`` draws one small panel per column, real and synthetic on the same axes: a numeric column as two
density histograms on common bins (N_BINS equal bins from the smallest to the largest value of either table, each
histogram of area 1 whatever its n: the KS statistic is the largest gap between their CDFs); a categorical column
as side-by-side bars of each category's share of the rows, null included as "(null)", the MAX_CATEGORIES most
frequent real categories shown and the rest summed as "(other)" (TVD is half the summed gaps between the bars).

``plot_correlations`` draws three heat maps of the numeric columns: Pearson's r of the real table, of the synthetic
table (each on the rows where both columns are non-null, as the pair-trends score computes them) and their
difference synthetic - real; all on the same colour scale [-1, 1] (a difference beyond it saturates). A blank cell
is an undefined r (a constant column).

Tables are in the column-batch convention (``minivae.tables.inputs``). The ROC curve of the detection classifier is
``minivae.plots.curves.plot_roc``.

Example
-------
>>> save_figure(plot_marginals(real, synthetic, kinds), "report/marginals.png")
>>> save_figure(plot_correlations(real, synthetic, kinds), "report/correlations.png")
"""
import math

import numpy as np

from minivae.plots.images import new_figure
from minivae.tables.inputs import category_codes, check_tables
from minivae.tables.quality import pearson
from minivae.validation import check_positive_int

N_BINS = 30
MAX_CATEGORIES = 12


def _numeric_panel(ax, real, synthetic):
    r, s = real[~np.isnan(real)], synthetic[~np.isnan(synthetic)]
    bins = np.histogram_bin_edges(np.concatenate([r, s]), bins=N_BINS)
    ax.hist(r, bins=bins, density=True, color="0.6", alpha=0.6, label=f"real (n = {len(r)})")
    ax.hist(s, bins=bins, density=True, histtype="step", linewidth=1.6, color="tab:blue",
            label=f"synthetic (n = {len(s)})")
    ax.set_ylabel("density")


def _categorical_panel(ax, real, synthetic, max_categories):
    (r, s), categories = category_codes([real, synthetic])
    labels = [str(c) for c in categories] + ["(null)"]
    k = len(labels)
    p = np.bincount(np.where(r < 0, k - 1, r), minlength=k) / len(r)
    q = np.bincount(np.where(s < 0, k - 1, s), minlength=k) / len(s)
    keep = [i for i in np.argsort(-p, kind="stable") if p[i] > 0 or q[i] > 0]
    if len(keep) > max_categories:  # the most frequent real categories, the rest as one bar
        rest = keep[max_categories - 1:]
        keep = keep[:max_categories - 1]
        p, q = np.r_[p[keep], p[rest].sum()], np.r_[q[keep], q[rest].sum()]
        labels = [labels[i] for i in keep] + ["(other)"]
    else:
        p, q, labels = p[keep], q[keep], [labels[i] for i in keep]
    at = np.arange(len(labels))
    ax.bar(at - 0.2, p, width=0.4, color="0.6", label=f"real (n = {len(r)})")
    ax.bar(at + 0.2, q, width=0.4, color="tab:blue", label=f"synthetic (n = {len(s)})")
    ax.set_xticks(at, [label if len(label) <= 12 else label[:11] + "…" for label in labels], rotation=45,
                  ha="right", fontsize=7)
    ax.set_ylabel("share of rows")


def plot_marginals(real, synthetic, kinds, per_row=4, max_categories=MAX_CATEGORIES):
    """One panel per column (module docstring), per_row panels a row, in column order. Returns the Figure.

    real, synthetic : tables in the column-batch convention    kinds : column -> "numeric" | "categorical"
    max_categories : the most bars a categorical panel shows (the last one "(other)"), at least 2
    """
    checked = check_tables({"real": real, "synthetic": synthetic}, kinds)
    per_row = check_positive_int(per_row, "per_row")
    if check_positive_int(max_categories, "max_categories") < 2:
        raise ValueError(f"max_categories must be at least 2 (one category and '(other)'), got {max_categories}")
    columns = list(checked["real"])
    n_cols = min(per_row, len(columns))
    n_rows = math.ceil(len(columns) / n_cols)
    fig = new_figure(3.3 * n_cols, 2.8 * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, column in zip(axes, columns):
        r, s = checked["real"][column], checked["synthetic"][column]
        if kinds[column] == "numeric":
            _numeric_panel(ax, r, s)
        else:
            _categorical_panel(ax, r, s, max_categories)
        ax.set_title(f"{column} ({kinds[column]})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, frameon=False)
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    return fig


def correlation_matrix(table, columns):
    """Pearson's r of every pair of numeric columns, (C, C), 1 on the diagonal, NaN where r is undefined."""
    r = np.eye(len(columns))
    for i in range(len(columns)):
        for j in range(i + 1, len(columns)):
            value = pearson(table[columns[i]], table[columns[j]])
            r[i, j] = r[j, i] = np.nan if value is None else value
    return r


def plot_correlations(real, synthetic, kinds):
    """The real, synthetic and difference heat maps of the numeric columns' correlations (module docstring).

    Needs at least two numeric columns. Each cell shows its value when there are at most 12 columns. Returns the
    Figure, with three heat maps and one colour bar.
    """
    checked = check_tables({"real": real, "synthetic": synthetic}, kinds)
    columns = [c for c in checked["real"] if kinds[c] == "numeric"]
    if len(columns) < 2:
        raise ValueError(f"a correlation heat map needs at least two numeric columns, got {len(columns)}")
    r_real, r_syn = correlation_matrix(checked["real"], columns), correlation_matrix(checked["synthetic"], columns)
    size = max(3.0, 0.45 * len(columns) + 1.5)
    fig = new_figure(3 * size + 0.8, size + 0.4)
    axes = fig.subplots(1, 3)
    for ax, matrix, title in zip(axes, (r_real, r_syn, r_syn - r_real),
                                 ("real: Pearson r", "synthetic: Pearson r", "difference: synthetic - real")):
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(columns)), columns, fontsize=8)
        ax.set_title(title, fontsize=10)
        if len(columns) <= 12:
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(value) > 0.6 else "black")
    fig.colorbar(image, ax=axes, shrink=0.8)
    return fig
