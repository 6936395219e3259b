"""Every score of a synthetic table in one JSON-able dict, and the markdown that explains it.

``quality_scores`` runs each metric of this package on the same tables and gathers their dicts:

    "quality_score", "column_shapes", "column_pair_trends"    SDMetrics' quality score (minivae.tables.quality)
    "detection"        can a logistic regression tell real from synthetic? (minivae.tables.detection)
    "efficacy"         train on synthetic, test on real, for one target column (minivae.tables.efficacy); None
                       without target
    "privacy"          distances to the closest training row (minivae.tables.dcr)
    "support"          synthetic cells outside the real column's support (``outside_support``): 0 for a generator
                       that respects the data
    "n_real", "n_synthetic", "n_holdout", "kinds"

Every number is a plain float or int, None where a score is undefined (not NaN, which JSON has not): the dict
goes to ``json.dumps`` as it is. ``markdown_report`` writes it as a page of tables, each score beside what it means;
``minivae.tables.report.write_report`` adds the figures and writes the folder.

Read them together: the quality score checks columns one and two at a time, detection all columns at once (but
only linearly), efficacy the relation that matters for one use, and DCR whether the rows are new. Copying the
training table scores 1.0 on quality, about 1.0 on detection and the efficacy of real rows: only DCR sees it.

Example
-------
>>> scores = quality_scores(real, synthetic, kinds, holdout=holdout, target="income")
>>> print(markdown_report(scores).splitlines()[0])
# Synthetic-data quality report
"""
import numpy as np

from minivae.tables.dcr import dcr_summary
from minivae.tables.detection import detection
from minivae.tables.efficacy import efficacy
from minivae.tables.inputs import check_tables, is_null
from minivae.tables.quality import quality_score


def quality_scores(real, synthetic, kinds, holdout=None, target=None, rng=None, folds=3, correlation_threshold=0.5,
                   association_threshold=0.3, binning="report"):
    """Every score (module docstring) of ``synthetic`` against ``real``, as one JSON-able dict.

    real : the generator's training rows    synthetic : its rows    holdout : real rows it never saw (for the DCR
    comparison and an honest efficacy test), or None    target : the column efficacy predicts, or None
    rng : np.random.Generator for the detection folds and the efficacy split (default seeded with 0)
    folds, correlation_threshold, association_threshold, binning : as in ``detection`` and ``column_pair_trends``
    """
    tables = {"real": real, "synthetic": synthetic, **({} if holdout is None else {"holdout": holdout})}
    checked = check_tables(tables, kinds)
    rng = np.random.default_rng(0) if rng is None else rng
    quality = quality_score(real, synthetic, kinds, correlation_threshold, association_threshold, binning)
    first = next(iter(kinds))
    return {"n_real": len(checked["real"][first]), "n_synthetic": len(checked["synthetic"][first]),
            "n_holdout": None if holdout is None else len(checked["holdout"][first]),
            "kinds": {c: kinds[c] for c in checked["real"]}, "quality_score": quality["score"],
            "column_shapes": quality["column_shapes"], "column_pair_trends": quality["column_pair_trends"],
            "detection": detection(real, synthetic, kinds, rng, folds),
            "efficacy": None if target is None else efficacy(real, synthetic, kinds, target, holdout, rng),
            "privacy": dcr_summary(real, synthetic, kinds, holdout),
            "support": outside_support(checked["real"], checked["synthetic"], kinds)}


def outside_support(real, synthetic, kinds):
    """The synthetic cells outside the real column's support, per column and in all, as shares of the cells:

        numeric       a value below min(real) or above max(real); a null where the real column has none
        categorical   a value (a null counts as one) that the real column does not hold

    Returns {"share": outside cells / all cells, "columns": [{"column", "outside", "cells"}, ...]}.

    Example
    -------
    >>> outside_support({"a": np.array([0.0, 1.0])}, {"a": np.array([0.5, 2.0])}, {"a": "numeric"})["share"]
    0.5
    """
    columns = []
    for name, kind in kinds.items():
        ref, syn = real[name], synthetic[name]
        if kind == "numeric":
            ref, syn = np.asarray(ref, dtype=np.float64), np.asarray(syn, dtype=np.float64)
            values = syn[~np.isnan(syn)]
            low, high = np.nanmin(ref), np.nanmax(ref)
            outside = int(np.sum((values < low) | (values > high)))
            outside += 0 if np.isnan(ref).any() else int(np.isnan(syn).sum())
        else:
            seen = {None if is_null(v) else v for v in ref}
            outside = sum((None if is_null(v) else v) not in seen for v in syn)
        columns.append({"column": name, "outside": int(outside), "cells": len(syn)})
    cells = sum(c["cells"] for c in columns)
    return {"share": sum(c["outside"] for c in columns) / cells, "columns": columns}


# ------------------------------------------------------------------------------------------------------- markdown
def _number(value, digits=4):
    return "n/a" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _table(header, rows):
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def _figure(figures, name, caption):
    return f"![{caption}]({figures[name]})" if name in figures else ""


def _summary(scores):
    det, eff, dcr = scores["detection"], scores["efficacy"], scores["privacy"]
    rows = [["quality score", _number(scores["quality_score"]), "mean of the two below (SDMetrics' QualityReport)"],
            ["column shapes", _number(scores["column_shapes"]["score"]),
             "mean over the columns of 1 - KS statistic (numeric) or 1 - total variation distance (categorical)"],
            ["column pair trends", _number(scores["column_pair_trends"]["score"]),
             "mean over the pairs that count of 1 - abs(r_real - r_syn) / 2 or 1 - TVD of the joint distribution"],
            ["detection", _number(det["score"]), f"1 - max(0, 2 AUC - 1) of a logistic regression telling real from "
             f"synthetic; held-out AUC {_number(det['auc'], 3)} over {det['folds']} folds (0.5 = chance)"]]
    if eff is not None:
        metric = eff["metric"]
        rows.append([f"efficacy ({metric.replace('_', ' ')})", _number(eff["synthetic"][metric]),
                     f"predicting {eff['target']!r}: trained on synthetic, tested on real rows; trained on real: "
                     f"{_number(eff['real'][metric])}, baseline {_number(eff['baseline'][metric])}"])
    if dcr["holdout"] is not None:
        rows.append(["DCR share closer", _number(dcr["share_closer_than_holdout_median"]),
                     "synthetic rows closer to a training row than the median held-out row is (about 0.5: no sign "
                     "of copying)"])
    rows.append(["exact copies", f"{dcr['synthetic']['exact_copies']} of {dcr['n_synthetic']}",
                 "synthetic rows equal to a training row in every column"])
    if scores.get("support") is not None:
        support = scores["support"]
        worst = max(support["columns"], key=lambda c: c["outside"])
        rows.append(["outside the support", f"{100 * support['share']:.2f}%",
                     "synthetic cells outside the real column's range or categories"
                     + (f" (most in `{worst['column']}`: {worst['outside']})" if worst["outside"] else "")])
    return _table(["score", "value", "what it means"], rows)


def _shapes(scores):
    rows = [[f"`{c['column']}`", c["kind"], c["metric"], _number(c["score"]), _number(c["null_share_real"], 3),
             _number(c["null_share_synthetic"], 3)] for c in scores["column_shapes"]["columns"]]
    return _table(["column", "kind", "metric", "score", "null share (real)", "null share (synthetic)"], rows)


def _pairs(scores):
    trends = scores["column_pair_trends"]
    rows = []
    for p in trends["pairs"]:
        if p["metric"] == "CorrelationSimilarity":
            real, syn = f"r = {_number(p['real'], 3)}", f"r = {_number(p['synthetic'], 3)}"
        else:
            real, syn = f"V = {_number(p['real_association'], 3)}", ""
        rows.append([f"`{p['columns'][0]}`", f"`{p['columns'][1]}`", p["metric"], _number(p["score"]), real, syn,
                     "yes" if p["counted"] else "no"])
    thresholds = trends["thresholds"]
    note = (f"A pair counts when the real data show a trend: |r_real| > {thresholds['correlation']:g} for two numeric "
            f"columns, Cramer's V of the real pair > {thresholds['association']:g} otherwise.\n\n")
    return note + _table(["column 1", "column 2", "metric", "score", "real", "synthetic", "counted"], rows)


def _efficacy(eff):
    keys = ["r2"] if eff["kind"] == "numeric" else ["accuracy", "macro_f1"]
    rows = [[name, str(eff[role]["n_train"]), *[_number(eff[role][k]) for k in keys]]
            for name, role in (("synthetic (TSTR)", "synthetic"), ("real (TRTR)", "real"),
                               ("baseline (no features)", "baseline"))]
    where = "held-out real rows" if eff["test"] == "holdout" else "real rows split off at random (the generator " \
        "saw them: TSTR is flattered)"
    return (f"A {eff['model']} regression predicts `{eff['target']}` from the other columns; tested on "
            f"{eff['n_test']} {where}.\n\n"
            + _table(["trained on", "rows", *[k.replace("_", " ") for k in keys]], rows))


def _privacy(dcr):
    rows = []
    for label, key in (("median", "median"), ("5th percentile", "p05"), ("share of exact copies", "exact_copy_share")):
        rows.append([label, *[_number(None if part is None else part[key], 3)
                              for part in (dcr["synthetic"], dcr["holdout"])]])
    text = ("The distance of two rows is the mean over the columns of |a - b| / range (numeric, at most 1) or 0/1 "
            "(categorical): 0 is an exact copy.\n\n"
            + _table(["distance to the closest training row", f"synthetic rows (n = {dcr['n_synthetic']})",
                      f"held-out rows (n = {_number(dcr['n_holdout'])})"], rows))
    if dcr["holdout"] is not None:
        text += (f"\n{_number(dcr['share_closer_than_holdout_median'], 3)} of the synthetic rows are closer to a "
                 "training row than the median held-out row is (about 0.5 when the generator copies nothing); "
                 f"{_number(dcr['closer_to_training_than_holdout'], 3)} are closer to the training rows than to "
                 "the held-out rows (SDMetrics' DCROverfittingProtection: "
                 f"{_number(dcr['overfitting_protection'], 3)}; about 0.5 and 1.0 when the two have as many rows).\n")
    return text


def markdown_report(scores, figures=None):
    """The markdown page of a ``quality_scores`` dict: the summary, then a section per score with its table.

    figures : optional dict of "marginals", "correlations", "roc" -> the figure's path relative to the page, each
              shown in its section. Returns the text (str), ending in a newline.
    """
    figures = {} if figures is None else dict(figures)
    counts = {kind: sum(k == kind for k in scores["kinds"].values()) for kind in ("numeric", "categorical")}
    held = "" if scores["n_holdout"] is None else f", {scores['n_holdout']} held-out real rows"
    det = scores["detection"]
    parts = [
        "# Synthetic-data quality report",
        f"{scores['n_real']} real (training) rows, {scores['n_synthetic']} synthetic rows{held}; "
        f"{len(scores['kinds'])} columns ({counts['numeric']} numeric, {counts['categorical']} categorical). Every "
        "score is in [0, 1], 1 = the synthetic rows cannot be told from the real ones.",
        "## Summary", _summary(scores),
        "## Column shapes", _shapes(scores), _figure(figures, "marginals", "real and synthetic marginals"),
        "## Column pair trends", _pairs(scores),
        _figure(figures, "correlations", "the correlation matrices of the numeric columns"),
        "## Detection",
        f"A logistic regression on the standardized numeric and one-hot categorical columns ({det['features']} "
        f"features) learns to tell the real rows from the synthetic ones; its held-out ROC AUC over {det['folds']} "
        f"folds is {', '.join(_number(a, 3) for a in det['fold_auc'])}: score {_number(det['score'])}.",
        _figure(figures, "roc", "the ROC curve of the detection classifier, first fold")]
    if scores["efficacy"] is not None:
        parts += ["## Machine-learning efficacy", _efficacy(scores["efficacy"])]
    parts += ["## Privacy: distance to the closest record", _privacy(scores["privacy"])]
    return "\n\n".join(part.strip("\n") for part in parts if part) + "\n"
