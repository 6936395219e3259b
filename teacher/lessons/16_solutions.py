"""Lesson 16 (distributed training): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: the batch's gradient from the shards' mean gradients, weighted by n_k / B (empty shards left out)
def weighted_gradient(shard_grads, sizes):
    total = sum(sizes)
    return sum(n / total * g for g, n in zip(shard_grads, sizes) if n > 0)


# %% exercise 2: the time of a ring allreduce of n_bytes over p ranks, 2 (p - 1) alpha + 2 (p - 1) / p * n / beta
def ring_allreduce_time(p, n_bytes, alpha, beta):
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * n_bytes / beta


# %% exercise 3: the batch's free-bits KL term from the shards' per-dimension KL (weighted sum first, then the max)
def free_bits_term(kl_dim_shards, sizes, lam):
    weights = np.asarray(sizes, dtype=np.float64) / np.sum(sizes)
    kl_batch = (weights[:, None] * np.asarray(kl_dim_shards, dtype=np.float64)).sum(axis=0)    # (L,)
    return float(np.maximum(kl_batch, lam).sum())
