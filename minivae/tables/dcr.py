"""Privacy by distance to closest record (DCR): is a synthetic row closer to some training row than a new real row
would be? A generator that copies its training rows scores perfectly on quality and leaks them all.

The distance of two rows a and b of C columns (SDMetrics' DCR distance), in [0, 1]:

    d(a, b) = 1/C sum_c d_c(a_c, b_c)
    numeric      d_c = min(|a_c - b_c| / range_c, 1),   range_c = max - min of the reference table's column
                 (range_c = 0: 0 if equal, else 1);  null and a number: 1;  null and null: 0
    categorical  d_c = 0 if a_c = b_c (null = null), else 1

    DCR(a) = min_{b in reference} d(a, b)                              0 = an exact copy of a reference row

``dcr_summary`` compares the synthetic rows' DCR to the training rows with the DCR of held-out real rows (real rows
the generator never saw) to the same training rows. A generator that learned the distribution, not the rows, puts
its rows as close to the training rows as new real rows are: about half of them closer than the held-out median.

    share_closer = #{synthetic s: DCR(s) < median_h DCR(h)} / n_synthetic      about 0.5: no sign of copying
    exact copies = #{s: DCR(s) = 0}, beside the held-out rows' own share of exact copies (discrete tables repeat)
    closer to training than to holdout (SDMetrics' DCROverfittingProtection): p = #{s: DCR_train(s) < DCR_hold(s)}
        / n_synthetic, each DCR scaled by its own reference's ranges, and its score min(2 (1 - p), 1); p is about
        0.5 only when the training and held-out tables have as many rows (the larger one holds closer rows)

Finding the closest of M reference rows for N rows costs N M C operations and no N x M matrix: the Numba kernel
``closest_distances`` keeps one running minimum per row and stops adding a row's columns once the sum passes it;
``closest_distances_reference`` is its readable NumPy twin, in blocks of chunk x chunk pairs. tests hold them equal.

Misses: a nearest neighbour in this distance, not a proof of privacy. A row can leak through a rare category
while its numbers move; only differentially private training (``minivae.privacy``) bounds every attack.

Example
-------
>>> distance_to_closest_record(synthetic, real, kinds)          # (N_synthetic,) in [0, 1]   # doctest: +SKIP
"""
import numpy as np
from numba import njit

from minivae.tables.inputs import category_codes, check_tables


def distance_inputs(tables, kinds):
    """Encode checked tables for the kernel: per table (numeric (N, Dn) float64, codes (N, Dc) int64), the
    categories coded on the union of all the tables (-1 for null), both C-contiguous."""
    columns = list(next(iter(tables)))
    numeric = [c for c in columns if kinds[c] == "numeric"]
    categorical = [c for c in columns if kinds[c] == "categorical"]
    codes = [category_codes([t[c] for t in tables])[0] for c in categorical]
    out = []
    for i, t in enumerate(tables):
        x_num = np.ascontiguousarray(np.column_stack([t[c] for c in numeric]) if numeric
                                     else np.zeros((len(t[columns[0]]), 0)))
        x_cat = np.ascontiguousarray(np.column_stack([codes[k][i] for k in range(len(categorical))]) if categorical
                                     else np.zeros((len(t[columns[0]]), 0), dtype=np.int64))
        out.append((x_num, x_cat))
    return out


def column_ranges(x_num):
    """range_c = max - min of each numeric column of the reference, nulls left out: (Dn,)."""
    if x_num.shape[1] == 0:
        return np.zeros(0)
    return np.nanmax(x_num, axis=0) - np.nanmin(x_num, axis=0)


def closest_distances_reference(x_num, x_cat, ref_num, ref_cat, ranges, chunk=1024):
    """DCR of each row of x to the rows of ref (module docstring), in NumPy: (N,) float64.

    Works on blocks of chunk rows of x against chunk rows of ref, so it holds at most chunk^2 distances at once.
    x_num (N, Dn), x_cat (N, Dc) and ref_num (M, Dn), ref_cat (M, Dc) from ``distance_inputs``; ranges (Dn,).
    """
    n_columns = x_num.shape[1] + x_cat.shape[1]
    best = np.full(len(x_num), np.inf)
    for i in range(0, len(x_num), chunk):
        for j in range(0, len(ref_num), chunk):
            total = np.zeros((len(x_num[i:i + chunk]), len(ref_num[j:j + chunk])))
            for c in range(x_num.shape[1]):
                a, b = x_num[i:i + chunk, c][:, None], ref_num[j:j + chunk, c][None, :]
                with np.errstate(invalid="ignore"):  # NaN - NaN; replaced just below
                    d = np.minimum(np.abs(a - b) / ranges[c], 1.0) if ranges[c] > 0 else (a != b).astype(float)
                null_a, null_b = np.isnan(a), np.isnan(b)
                total += np.where(null_a | null_b, np.where(null_a & null_b, 0.0, 1.0), d)
            for c in range(x_cat.shape[1]):
                total += x_cat[i:i + chunk, c][:, None] != ref_cat[j:j + chunk, c][None, :]
            best[i:i + chunk] = np.minimum(best[i:i + chunk], total.min(axis=1))
    return best / n_columns


@njit(cache=True, error_model="numpy")
def closest_distances(x_num, x_cat, ref_num, ref_cat, ranges, out):
    """The kernel of ``closest_distances_reference``: writes DCR(x_i) into out (N,); the same sums in the same
    column order (numeric, then categorical), so the two agree to the last bit."""
    n_columns = x_num.shape[1] + x_cat.shape[1]
    for i in range(x_num.shape[0]):
        best = np.inf
        for j in range(ref_num.shape[0]):
            total = 0.0
            for c in range(x_num.shape[1]):
                a, b = x_num[i, c], ref_num[j, c]
                if a != a or b != b:  # a null: 0 if both are, else 1
                    total += 0.0 if (a != a and b != b) else 1.0
                elif ranges[c] > 0:
                    total += min(abs(a - b) / ranges[c], 1.0)
                else:
                    total += 0.0 if a == b else 1.0
                if total >= best:
                    break
            if total < best:
                for c in range(x_cat.shape[1]):
                    total += 0.0 if x_cat[i, c] == ref_cat[j, c] else 1.0
                    if total >= best:
                        break
            if total < best:
                best = total
                if best == 0.0:  # an exact copy: nothing is closer
                    break
        out[i] = best / n_columns
    return out


def distance_to_closest_record(rows, reference, kinds):
    """DCR of every row of ``rows`` to the ``reference`` table (module docstring), scaled by the reference's ranges.

    rows, reference : tables in the column-batch convention, the same columns    Returns (N,) float64 in [0, 1].

    Example
    -------
    >>> t = {"x": np.array([0.0, 10.0]), "c": np.array(["a", "b"], dtype=object)}
    >>> distance_to_closest_record({"x": np.array([1.0]), "c": np.array(["b"], dtype=object)}, t,
    ...                            {"x": "numeric", "c": "categorical"}).tolist()    # (0.1 + 1) / 2 or (0.9 + 0) / 2
    [0.45]
    """
    checked = check_tables({"rows": rows, "reference": reference}, kinds)
    (x_num, x_cat), (ref_num, ref_cat) = distance_inputs([checked["rows"], checked["reference"]], kinds)
    return closest_distances(x_num, x_cat, ref_num, ref_cat, column_ranges(ref_num), np.empty(len(x_num)))


def _summary(distances):
    return {"median": float(np.median(distances)), "p05": float(np.percentile(distances, 5)),
            "exact_copies": int(np.sum(distances == 0)), "exact_copy_share": float(np.mean(distances == 0))}


def dcr_summary(real, synthetic, kinds, holdout=None):
    """The DCR comparison (module docstring), as a dict of plain numbers:

        "synthetic"   {"median", "p05", "exact_copies", "exact_copy_share"} of DCR(synthetic row, real)
        "holdout"     the same of DCR(holdout row, real), None without holdout
        "share_closer_than_holdout_median", "closer_to_training_than_holdout", "overfitting_protection":
                      None without holdout
        "n_real", "n_synthetic", "n_holdout"

    p05 is the 5th percentile (np.percentile, linear between order statistics). real : the generator's training rows.
    """
    tables = {"real": real, "synthetic": synthetic, **({} if holdout is None else {"holdout": holdout})}
    checked = check_tables(tables, kinds)
    encoded = dict(zip(checked, distance_inputs(list(checked.values()), kinds)))

    def dcr(role, reference):
        x, ref = encoded[role], encoded[reference]
        return closest_distances(*x, *ref, column_ranges(ref[0]), np.empty(len(x[0])))

    to_real = dcr("synthetic", "real")
    result = {"n_real": len(encoded["real"][0]), "n_synthetic": len(to_real), "n_holdout": None,
              "synthetic": _summary(to_real), "holdout": None, "share_closer_than_holdout_median": None,
              "closer_to_training_than_holdout": None, "overfitting_protection": None}
    if holdout is not None:
        holdout_to_real, to_holdout = dcr("holdout", "real"), dcr("synthetic", "holdout")
        closer = float(np.mean(to_real < to_holdout))
        result.update(n_holdout=len(holdout_to_real), holdout=_summary(holdout_to_real),
                      share_closer_than_holdout_median=float(np.mean(to_real < np.median(holdout_to_real))),
                      closer_to_training_than_holdout=closer, overfitting_protection=min(2 * (1 - closer), 1.0))
    return result
