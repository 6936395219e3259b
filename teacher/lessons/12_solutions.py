"""Lesson 12 (a VAE for text): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: the backward pass of one GRU step (cache of gru_step_forward: x, h_prev, r, z, n, hn)
def gru_step_backward(dh, cache, p):
    x, h_prev, r, z, n, hn = cache
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dn_pre = dn * (1 - n * n)
    dr = dn_pre * hn
    dz_pre = dz * z * (1 - z)
    dr_pre = dr * r * (1 - r)
    f = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)
    g = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)
    grads = {"W_ih": x.T @ f, "W_hh": h_prev.T @ g, "b_ih": f.sum(axis=0), "b_hh": g.sum(axis=0)}
    return f @ p["W_ih"].T, dh * z + g @ p["W_hh"].T, grads


# %% exercise 2: Cho et al.'s GRU, the reset gate applied to h_prev before W_hn: its forward and backward steps
def cho_step_forward(x, h_prev, p):
    H = h_prev.shape[1]
    gi = x @ p["W_ih"] + p["b_ih"]
    gh = h_prev @ p["W_hh"][:, :2 * H] + p["b_hh"][:2 * H]
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    rh = r * h_prev
    n = np.tanh(gi[:, 2 * H:] + rh @ p["W_hh"][:, 2 * H:] + p["b_hh"][2 * H:])
    h = (1 - z) * n + z * h_prev
    return h, (x, h_prev, r, z, n, rh)


def cho_step_backward(dh, cache, p):
    x, h_prev, r, z, n, rh = cache
    H = h_prev.shape[1]
    dn_pre = dh * (1 - z) * (1 - n * n)
    dz_pre = dh * (h_prev - n) * z * (1 - z)
    drh = dn_pre @ p["W_hh"][:, 2 * H:].T                      # dL/d(r * h_prev)
    dr_pre = drh * h_prev * r * (1 - r)
    f = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)        # dL/d(x W_ih + b_ih)
    g_rz = np.concatenate([dr_pre, dz_pre], axis=1)             # dL/d(h_prev W_hr,hz + b_hr,hz)
    grads = {"W_ih": x.T @ f, "b_ih": f.sum(axis=0),
             "W_hh": np.concatenate([h_prev.T @ g_rz, rh.T @ dn_pre], axis=1),
             "b_hh": np.concatenate([g_rz.sum(axis=0), dn_pre.sum(axis=0)])}
    dh_prev = dh * z + g_rz @ p["W_hh"][:, :2 * H].T + drh * r  # direct, through the gates, through r * h_prev
    return f @ p["W_ih"].T, dh_prev, grads


# %% exercise 3: the logistic KL schedule 1 / (1 + exp(-k (t - t0))), without overflow
def logistic_beta(step, k, t0):
    a = k * (np.asarray(step, dtype=np.float64) - t0)
    return np.exp(-np.logaddexp(0.0, -a))


# %% exercise 4: greedy decoding by hand, as model.decode does it
def greedy_decode(model, z, max_length):
    z = np.asarray(z, dtype=model.dtype)
    h = np.tanh(z @ model.to_state.params["W"] + model.to_state.params["b"])
    context = z if getattr(model, "z_every_step", False) else None
    N = len(z)
    ids = np.full((N, max_length), PAD_ID, dtype=np.int64)
    ids[:, 0] = BOS_ID
    done = np.zeros(N, dtype=bool)
    for t in range(1, max_length):
        u = model.embedding.params["W"][ids[:, t - 1]]
        if context is not None:
            u = np.concatenate([u, context], axis=1)
        h = model.decoder.step(u, h)
        logits = (h @ model.output.params["W"] + model.output.params["b"]).astype(np.float64)
        logits[:, [PAD_ID, BOS_ID]] = -np.inf
        token = logits.argmax(axis=1)
        ids[:, t] = np.where(done, PAD_ID, token)
        done |= token == EOS_ID
        if done.all():
            return ids[:, :t + 1]
    return ids
