"""Lesson 14 (privacy): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: the clipped sum of the per-example gradients by a loop, each scaled by min(1, C / ||g_b||)
def clipped_sum_loop(model, x, C, eps):
    total = {name: np.zeros_like(g, dtype=np.float64) for name, g in model.grads.items()}
    for b in range(len(x)):
        model.loss_and_gradients(x[b:b + 1], eps=eps[b:b + 1])
        g = {name: np.array(v, dtype=np.float64) for name, v in model.grads.items()}     # copies
        norm = np.sqrt(sum(float(np.sum(v ** 2)) for v in g.values()))                  # one norm, all parameters
        scale = min(1.0, C / norm) if norm > 0 else 1.0
        for name in total:
            total[name] += scale * g[name]
    return total


# %% exercise 2: the standard RDP -> (epsilon, delta) conversion, minimised over the orders
def my_epsilon_standard(orders, rdp, delta):
    orders, rdp = np.asarray(orders, dtype=np.float64), np.asarray(rdp, dtype=np.float64)
    eps = rdp - np.log(delta) / (orders - 1)
    best = int(np.argmin(eps))
    return max(0.0, float(eps[best])), float(orders[best])


# %% exercise 3: the smallest epsilon at which randomized response with truth probability p is (epsilon, 0)-DP
def rr_epsilon(p):
    return float(np.log(p / (1 - p)))
