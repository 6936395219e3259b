"""The folder of a synthetic-data quality report: the page, the numbers and the figures, each written atomically.

``write_report(folder, real, synthetic, kinds, ...)`` computes ``minivae.tables.scores.quality_scores`` and writes

    report.md          ``markdown_report``, the figures linked by their file names
    scores.json        the scores dict, as it is (every number a float, an int or null)
    marginals.png      every column, real against synthetic (``minivae.plots.tables.plot_marginals``)
    correlations.png   the numeric columns' correlations, real, synthetic, difference (with two numeric columns)
    detection_roc.png  the ROC curve of the detection classifier on its first held-out fold (``plot_roc``)

Every file goes through ``minivae.fileio`` (a temporary file renamed over the target), so a report is never half
written; the folder is created if missing and files of an earlier report are replaced. This module loads
matplotlib for the figures; ``quality_scores`` alone does not.

Example
-------
>>> scores = write_report("runs/adult/quality", real, synthetic, kinds, holdout=holdout, target="income")
>>> scores["quality_score"]                                   # doctest: +SKIP
0.87
"""
import json
from pathlib import Path

from minivae.fileio import atomic_write
from minivae.plots.curves import plot_roc
from minivae.plots.images import save_figure
from minivae.plots.tables import plot_correlations, plot_marginals
from minivae.tables.scores import markdown_report, quality_scores

FILES = {"marginals": "marginals.png", "correlations": "correlations.png", "roc": "detection_roc.png"}


def write_report(folder, real, synthetic, kinds, holdout=None, target=None, rng=None, **options):
    """Compute every score and write the report's files (module docstring) into folder. Returns the scores dict.

    real, synthetic, holdout, target, rng and options (folds, correlation_threshold, association_threshold,
    binning) are those of ``quality_scores``.
    """
    scores = quality_scores(real, synthetic, kinds, holdout=holdout, target=target, rng=rng, **options)
    folder = Path(folder)
    figures = {"marginals": plot_marginals(real, synthetic, kinds)}
    if sum(kind == "numeric" for kind in scores["kinds"].values()) >= 2:
        figures["correlations"] = plot_correlations(real, synthetic, kinds)
    roc = scores["detection"]["roc"]
    figures["roc"] = plot_roc(roc["fpr"], roc["tpr"], auc=scores["detection"]["fold_auc"][0])
    for name, fig in figures.items():
        save_figure(fig, folder / FILES[name], dpi=110)
    with atomic_write(folder / "scores.json", "w", encoding="utf-8") as f:
        f.write(json.dumps(scores, indent=1) + "\n")
    with atomic_write(folder / "report.md", "w", encoding="utf-8") as f:
        f.write(markdown_report(scores, {name: FILES[name] for name in figures}))
    return scores
