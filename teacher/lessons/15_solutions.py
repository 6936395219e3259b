"""Lesson 15 (tables): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: decode a logit column by hand: y = m + s u, x = a + (b - a) sigmoid(y), clipped to [a, b]
def decode_logit(u, column):
    y = column["mean"] + column["std"] * np.asarray(u, dtype=np.float64)
    sigmoid = np.exp(-np.logaddexp(0.0, -y))                     # 1 / (1 + e^-y), without overflow
    a, b = column["low"], column["high"]
    return np.clip(a + (b - a) * sigmoid, a, b)


# %% exercise 2: the two-sample Kolmogorov-Smirnov statistic, exactly: the max over the merged values
def my_ks(a, b):
    a, b = (np.sort(np.asarray(v, dtype=np.float64)) for v in (a, b))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    grid = np.concatenate([a, b])
    f_a = np.searchsorted(a, grid, side="right") / len(a)
    f_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(f_a - f_b)))


# %% exercise 3: the distance of one row to its closest record of a reference table
def my_dcr(row, reference, kinds):
    n_ref = len(next(iter(reference.values())))
    total = np.zeros(n_ref)
    for name, kind in kinds.items():
        ref = reference[name]
        if kind == "numeric":
            ref = np.asarray(ref, dtype=np.float64)
            a = float(row[name])
            span = np.nanmax(ref) - np.nanmin(ref)
            with np.errstate(invalid="ignore"):
                d = np.minimum(np.abs(a - ref) / span, 1.0) if span > 0 else (a != ref).astype(float)
            null_a, null_ref = np.isnan(a), np.isnan(ref)
            total += np.where(null_a | null_ref, np.where(null_a & null_ref, 0.0, 1.0), d)
        else:
            total += np.array([v != row[name] for v in ref], dtype=float)
    return float(total.min() / len(kinds))
