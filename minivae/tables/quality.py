"""Synthetic-data quality as SDMetrics' QualityReport defines it: does each column have the real column's shape, and
does each pair of columns move together as in the real data? Every score is in [0, 1], 1 = indistinguishable.

Column shapes, one score per column, nulls left out (SDMetrics' KSComplement and TVComplement drop them too):

    numeric       1 - D,    D = sup_x |F_real(x) - F_syn(x)|            (two-sample Kolmogorov-Smirnov statistic)
        F(x) = #{values <= x} / n, the empirical CDF. Both are step functions that change only at the data, so the
        sup is a max over the merged values, exact (``ks_statistic``).
    categorical   1 - TVD,  TVD = 1/2 sum_c |p_real(c) - p_syn(c)|      (total variation distance)
        p(c) = #{c} / #{non-null}, over the categories of either table.

Column-pair trends, one score per pair of columns:

    two numeric       1 - |r_real - r_syn| / 2       Pearson's r on the rows where both are non-null
    with a category   1 - 1/2 sum_{a, b} |p_real(a, b) - p_syn(a, b)|    (the TVD of the two joint distributions;
                      null is a value of its own; a numeric column is first cut into bins, see ``numeric_bins``)

The column-shapes score is the mean over the columns, the column-pair-trends score the mean over the pairs that
*count*, and the quality score the mean of the two (SDMetrics 0.32's ``QualityReport``; with one column there is
no pair and the quality score is the column-shapes score). Since its issue #815 (January 2026) SDMetrics counts a
pair only when the real data show a trend worth copying: |r_real| > 0.5 for two numeric columns, Cramer's V of the
real pair > 0.3 for the others (``correlation_threshold``, ``association_threshold``; 0 counts every pair, as
SDMetrics did before), so that the many pairs without a trend, easy to copy, do not drown the few with one:

    V = sqrt(chi2 / (n (min(R, C) - 1))),   chi2 = sum_{a, b} (O_ab - E_ab)^2 / E_ab,   E_ab = O_a. O_.b / n

over the R x C table of counts O of the real pair (without Yates' correction). Every pair's score is computed and
reported; ``counted`` says whether it enters the mean.

Where this differs from SDMetrics 0.32 (tests/test_table_quality.py measures the agreement):
* KS: SDMetrics rounds the values to 14 decimal places first; here they are compared as they are.
* TVD: SDMetrics gives a category seen only in the synthetic data a real count of 1e-6; here it is 0. The two
  differ by less than 1e-6 * (number of such categories) / n_real.
* Bins: a null numeric value is a bin of its own here; SDMetrics' np.digitize puts NaN in the bin that holds only
  the column's maximum, so a pair's score differs by at most half the share of the rows at the maximum.
* SDMetrics draws 50,000 rows at random (unseeded) for a pair with a category when a table has more rows; here
  every row is used, so on larger tables its numbers scatter around these.

Misses: marginals and pairs only. A generator can match all of them and still get three-way relations wrong, and
copying the training set scores 1.0: read ``minivae.tables.detection`` and ``minivae.tables.dcr`` beside it. And
the report bins a numeric column into ten equal-width bins on each table's own range, so real bin k and synthetic
bin k can be different intervals: a synthetic column shifted by +5 keeps its contingency scores (binning="real",
the real column's bins for both, sees it; the column-shapes score does in any case).

Example
-------
>>> ks_statistic([1.0, 2.0, 3.0], [2.5, 3.5])          # F_real(2) = 2/3, F_syn(2) = 0
0.6666666666666666
>>> quality_score(real, synthetic, kinds)["score"]    # doctest: +SKIP
0.87
"""
import itertools

import numpy as np

from minivae.tables.inputs import category_codes, check_tables

N_BINS = 10  # SDMetrics' bins of a numeric column paired with a categorical one
BINNINGS = ("report", "real")


# ------------------------------------------------------------------------------------------------- column shapes
def ks_statistic(a, b):
    """The two-sample Kolmogorov-Smirnov statistic D = max_x |F_a(x) - F_b(x)| of two 1-D samples, exactly.

    The empirical CDFs F_a(x) = #{a_i <= x} / n and F_b are right-continuous steps that change only at the data, so
    the sup over all x is the max over the n + m merged values. NaN are left out; each sample needs one value.
    a : (n,)    b : (m,)    Returns D in [0, 1] (scipy.stats.ks_2samp's statistic).
    """
    a, b = (np.sort(np.asarray(v, dtype=np.float64)) for v in (a, b))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"the KS statistic needs at least one non-null value in each sample, got {len(a)} and "
                         f"{len(b)}")
    grid = np.concatenate([a, b])
    f_a = np.searchsorted(a, grid, side="right") / len(a)
    f_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(f_a - f_b)))


def total_variation(codes_real, codes_syn, n_codes):
    """TVD = 1/2 sum_c |p_real(c) - p_syn(c)| of two samples of integer codes in 0 .. n_codes - 1, in [0, 1].

    p(c) = #{c} / n. Codes -1 (null) must be mapped to a code of their own or removed before.
    """
    p = np.bincount(codes_real, minlength=n_codes) / len(codes_real)
    q = np.bincount(codes_syn, minlength=n_codes) / len(codes_syn)
    return float(0.5 * np.sum(np.abs(p - q)))


def column_shape(real_column, syn_column, kind):
    """The shape score of one column (module docstring): {"metric", "score", "null_share_real", "null_share_synthetic"}.

    numeric: "KSComplement" 1 - D;  categorical: "TVComplement" 1 - TVD; nulls left out of both, and reported apart
    (the shares of null rows), since SDMetrics' quality score does not compare them.
    """
    if kind == "numeric":
        nulls = np.isnan(real_column).mean(), np.isnan(syn_column).mean()
        metric, score = "KSComplement", 1.0 - ks_statistic(real_column, syn_column)
    else:
        (r, s), categories = category_codes([real_column, syn_column])
        nulls = (r < 0).mean(), (s < 0).mean()
        metric, score = "TVComplement", 1.0 - total_variation(r[r >= 0], s[s >= 0], len(categories))
    return {"metric": metric, "score": score, "null_share_real": float(nulls[0]),
            "null_share_synthetic": float(nulls[1])}


def column_shapes(real, synthetic, kinds):
    """The column-shapes property: {"score": mean over the columns, "columns": [one dict a column, in order]}.

    Each entry is ``column_shape``'s dict with "column" and "kind" added. Tables in the column-batch convention.
    """
    checked = check_tables({"real": real, "synthetic": synthetic}, kinds)
    rows = [{"column": c, "kind": kinds[c], **column_shape(checked["real"][c], checked["synthetic"][c], kinds[c])}
            for c in checked["real"]]
    return {"score": float(np.mean([row["score"] for row in rows])), "columns": rows}


# ------------------------------------------------------------------------------------------------- column pairs
def pearson(x, y):
    """Pearson's r = sum (x - x_bar)(y - y_bar) / sqrt(sum (x - x_bar)^2 sum (y - y_bar)^2) over the rows where both
    are non-null; None when it is undefined (fewer than two such rows, or a constant column among them)."""
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    x, y = x - x.mean(), y - y.mean()
    return float(np.clip(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y)), -1.0, 1.0))


def numeric_bins(values, edges):
    """Bin numbers of a numeric column for a contingency table: np.digitize(values, edges), -1 for null.

    bin k = #{edges <= value}: with SDMetrics' ten equal-width bins on [min, max] (11 edges) the bins are
    [e_{k-1}, e_k) for k = 1 .. 10, and the maximum itself is bin 11.
    """
    bins = np.digitize(values, edges)
    return np.where(np.isnan(values), -1, bins)


def _bin_edges(real_values, syn_values, binning):
    """The edges for each table. "report": each table on its own range (the QualityReport: np.histogram_bin_edges of
    the table's own non-null values, so real bin k and synthetic bin k can be different intervals); "real": the real
    values' edges with the outer two opened to -inf and +inf (ContingencySimilarity with continuous_column_names)."""
    real_edges = np.histogram_bin_edges(real_values[~np.isnan(real_values)], bins=N_BINS)
    if binning == "report":
        return real_edges, np.histogram_bin_edges(syn_values[~np.isnan(syn_values)], bins=N_BINS)
    real_edges[0], real_edges[-1] = -np.inf, np.inf
    return real_edges, real_edges


def _discrete(real_column, syn_column, kind, binning):
    """Both columns as codes 0 .. K - 1, null a code of its own (the last): (codes_real, codes_syn, K)."""
    if kind == "numeric":
        real_edges, syn_edges = _bin_edges(real_column, syn_column, binning)
        r, s, k = numeric_bins(real_column, real_edges), numeric_bins(syn_column, syn_edges), N_BINS + 2
    else:
        (r, s), categories = category_codes([real_column, syn_column])
        k = len(categories) + 1
    return np.where(r < 0, k - 1, r), np.where(s < 0, k - 1, s), k


def cramers_v(codes_a, codes_b, k_a, k_b):
    """Cramer's V of the contingency table of two code columns (module docstring), on the rows and columns that
    occur; None when the table has a single row or column (no association to measure)."""
    counts = np.zeros((k_a, k_b))
    np.add.at(counts, (codes_a, codes_b), 1.0)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if min(counts.shape) < 2:
        return None
    n = counts.sum()
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
    chi2 = np.sum((counts - expected) ** 2 / expected)
    return float(np.sqrt(chi2 / n / (min(counts.shape) - 1)))


def column_pair(real, synthetic, names, kinds, binning="report"):
    """The trend score of one pair of columns (module docstring), as a dict:

        {"metric": "CorrelationSimilarity", "score", "real", "synthetic"}       two numeric columns (r of each)
        {"metric": "ContingencySimilarity", "score", "real_association"}        otherwise (Cramer's V of the real)

    score is None where r is undefined (a constant column). real, synthetic : dicts of column -> checked array.
    """
    a, b = names
    if kinds[a] == kinds[b] == "numeric":
        r_real, r_syn = pearson(real[a], real[b]), pearson(synthetic[a], synthetic[b])
        score = None if r_real is None or r_syn is None else 1.0 - abs(r_real - r_syn) / 2
        return {"metric": "CorrelationSimilarity", "score": score, "real": r_real, "synthetic": r_syn}
    ra, sa, ka = _discrete(real[a], synthetic[a], kinds[a], binning)
    rb, sb, kb = _discrete(real[b], synthetic[b], kinds[b], binning)
    tvd = total_variation(ra * kb + rb, sa * kb + sb, ka * kb)  # the joint value (a, b) as one code
    return {"metric": "ContingencySimilarity", "score": 1.0 - tvd, "real_association": cramers_v(ra, rb, ka, kb)}


def _counts(pair, correlation_threshold, association_threshold):
    """Whether a pair enters the mean: its score exists and the real trend passes the threshold (strictly)."""
    if pair["score"] is None:
        return False
    if pair["metric"] == "CorrelationSimilarity":
        return correlation_threshold <= 0 or abs(pair["real"]) > correlation_threshold
    v = pair["real_association"]
    return association_threshold <= 0 or (v is not None and v > association_threshold)


def column_pair_trends(real, synthetic, kinds, correlation_threshold=0.5, association_threshold=0.3,
                       binning="report"):
    """The column-pair-trends property: {"score", "pairs": [one dict a pair], "thresholds"}.

    Every pair (a, b) of columns, a before b in column order, gets ``column_pair``'s dict with "columns" and
    "counted" added. score : the mean over the counted pairs, None if none counts (the quality score is then the
    column-shapes score alone, as in SDMetrics).
    correlation_threshold, association_threshold : in [0, 1]; SDMetrics 0.32's defaults, 0 to count every pair
    binning : "report" (each table's numeric column binned on its own range, as SDMetrics' QualityReport does) or
              "real" (both on the real column's bins, as ContingencySimilarity with continuous_column_names)
    """
    for name, value in (("correlation_threshold", correlation_threshold),
                        ("association_threshold", association_threshold)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1] (0 counts every pair), got {value!r}")
    if binning not in BINNINGS:
        raise ValueError(f"binning must be one of {BINNINGS}, got {binning!r}")
    checked = check_tables({"real": real, "synthetic": synthetic}, kinds)
    pairs = []
    for names in itertools.combinations(checked["real"], 2):
        pair = {"columns": list(names), **column_pair(checked["real"], checked["synthetic"], names, kinds, binning)}
        pair["counted"] = _counts(pair, correlation_threshold, association_threshold)
        pairs.append(pair)
    counted = [pair["score"] for pair in pairs if pair["counted"]]
    return {"score": float(np.mean(counted)) if counted else None, "pairs": pairs,
            "thresholds": {"correlation": correlation_threshold, "association": association_threshold}}


def quality_score(real, synthetic, kinds, correlation_threshold=0.5, association_threshold=0.3, binning="report"):
    """SDMetrics' quality score: the mean of the column-shapes and the column-pair-trends scores (the second left
    out when no pair counts). Returns {"score", "column_shapes", "column_pair_trends"} with both properties' dicts.

    Example
    -------
    >>> quality_score(real, real, kinds)["score"]                                # doctest: +SKIP
    1.0
    """
    shapes = column_shapes(real, synthetic, kinds)
    trends = column_pair_trends(real, synthetic, kinds, correlation_threshold, association_threshold, binning)
    parts = [p["score"] for p in (shapes, trends) if p["score"] is not None]
    return {"score": float(np.mean(parts)), "column_shapes": shapes, "column_pair_trends": trends}
