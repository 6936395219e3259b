"""Start here: the whole VAE in one file of plain NumPy, before the library.

This is the model that ``python -m minivae train`` trains (an MLP VAE with one hidden layer, ReLU, a Bernoulli
likelihood on pixels, Adam), written out in one place: the forward pass, the negative ELBO, the backward pass by hand
and the Adam update, one expression per formula. The library splits the same arithmetic into small parts
(``minivae/nn/`` for layers, losses, the KL and Adam; ``minivae/models/vae.py`` for the model) and makes it fast;
``tests/test_start_here.py`` holds the two equal from the same seed. Run it: ``python -m minivae.start_here``.

Shapes: N examples of D pixels, H hidden units, L latent dimensions. The parameter names are the library's.

    encoder  h1 = relu(x W_e0 + b_e0)          (N, H)      [mu | logvar] = h1 W_e2 + b_e2     (N, 2L)
    noise    z = mu + exp(logvar / 2) eps      (N, L)      eps ~ N(0, I)      (the reparameterization trick)
    decoder  h2 = relu(z W_d0 + b_d0)          (N, H)      logits = h2 W_d2 + b_d2            (N, D)
    loss     mean_n [ sum_d (softplus(l) - x l)  +  0.5 sum_j (mu^2 + exp(logvar) - 1 - logvar) ]
                      -log p(x | z), Bernoulli      KL(q(z | x) || N(0, I)), closed form
"""
import numpy as np

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0  # the clamp of the log-variance: exp(logvar) neither underflows nor overflows


def init_params(input_dim, hidden, latent_dim, seed=0, dtype=np.float32):
    """He initialisation before a ReLU, Glorot for the two output layers, zero biases: the library's, draw for draw."""
    rng = np.random.default_rng(seed)

    def he(n_in, n_out):
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out)).astype(dtype)

    def glorot(n_in, n_out):
        a = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)

    p = {"encoder.0.W": he(input_dim, hidden), "encoder.2.W": glorot(hidden, 2 * latent_dim),
         "decoder.0.W": he(latent_dim, hidden), "decoder.2.W": glorot(hidden, input_dim)}
    for name, W in list(p.items()):
        p[name.replace(".W", ".b")] = np.zeros(W.shape[1], dtype)
    return p


class PlainNumpyVAE:
    """One training step in four phases, ``forward``, ``loss``, ``backward`` and ``adam``; ``step`` runs them."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = params
        self.latent_dim = params["decoder.0.W"].shape[0]
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = {k: np.zeros_like(p) for k, p in params.items()}  # Adam's first moments
        self.v = {k: np.zeros_like(p) for k, p in params.items()}  # Adam's second moments
        self.t = 0  # Adam's step counter

    def forward(self, x, noise):
        """x (N, D), noise (N, L) -> logits (N, D); keeps what the backward pass needs in self.cache."""
        p, L = self.params, self.latent_dim
        a1 = x @ p["encoder.0.W"] + p["encoder.0.b"]
        h1 = np.maximum(a1, 0)
        head = h1 @ p["encoder.2.W"] + p["encoder.2.b"]
        mu, raw = head[:, :L], head[:, L:]
        logvar = np.clip(raw, LOGVAR_MIN, LOGVAR_MAX)
        sigma = np.exp(0.5 * logvar)
        z = mu + sigma * noise
        a2 = z @ p["decoder.0.W"] + p["decoder.0.b"]
        h2 = np.maximum(a2, 0)
        logits = h2 @ p["decoder.2.W"] + p["decoder.2.b"]
        self.cache = dict(x=x, noise=noise, a1=a1, h1=h1, mu=mu, raw=raw, logvar=logvar, sigma=sigma, z=z, a2=a2,
                          h2=h2, logits=logits)
        return logits

    def loss(self, x):
        """The negative ELBO (batch mean, nats) and its gradient with respect to the logits, (N, D)."""
        c, n = self.cache, len(x)
        logits, mu, logvar = c["logits"], c["mu"], c["logvar"]
        # softplus(l) - x l, written so that it never overflows: max(l, 0) - x l + log(1 + exp(-|l|))
        nll = (np.maximum(logits, 0) - x * logits + np.log1p(np.exp(-np.abs(logits)))).sum(axis=1)
        kl = 0.5 * (mu * mu + np.exp(logvar) - 1 - logvar).sum(axis=1)
        e = np.exp(-np.abs(logits))
        sigmoid = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
        dlogits = (sigmoid - x) / n  # d mean_n(nll) / d logits
        return float(nll.mean() + kl.mean()), dlogits

    def backward(self, dlogits):
        """Every parameter's gradient, layer by layer from the logits back to the input."""
        c, p, n = self.cache, self.params, len(dlogits)
        g = {"decoder.2.W": c["h2"].T @ dlogits, "decoder.2.b": dlogits.sum(axis=0)}
        da2 = (dlogits @ p["decoder.2.W"].T) * (c["a2"] > 0)  # through the ReLU
        g["decoder.0.W"], g["decoder.0.b"] = c["z"].T @ da2, da2.sum(axis=0)
        dz = da2 @ p["decoder.0.W"].T
        dmu = dz + c["mu"] / n  # through z = mu + sigma eps, plus the KL's d mean(kl) / d mu = mu / N
        dlogvar = dz * c["noise"] * 0.5 * c["sigma"] + 0.5 * (np.exp(c["logvar"]) - 1) / n
        dlogvar = dlogvar * ((c["raw"] >= LOGVAR_MIN) & (c["raw"] <= LOGVAR_MAX))  # the clamp passes no gradient
        dhead = np.concatenate([dmu, dlogvar], axis=1)
        g["encoder.2.W"], g["encoder.2.b"] = c["h1"].T @ dhead, dhead.sum(axis=0)
        da1 = (dhead @ p["encoder.2.W"].T) * (c["a1"] > 0)
        g["encoder.0.W"], g["encoder.0.b"] = c["x"].T @ da1, da1.sum(axis=0)
        return g

    def adam(self, grads):
        """Adam with bias correction (Kingma & Ba 2015, Algorithm 1), every parameter in place."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for k, p in self.params.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * grads[k]
            self.v[k] = b2 * self.v[k] + (1 - b2) * grads[k] ** 2
            m_hat, v_hat = self.m[k] / (1 - b1**self.t), self.v[k] / (1 - b2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def step(self, x, noise):
        """One training step on the batch x (N, D) with the noise (N, L); returns the loss before the update."""
        self.forward(x, noise)
        loss, dlogits = self.loss(x)
        self.adam(self.backward(dlogits))
        return loss


def train(vae, x, epochs=1, batch_size=128, seed=0):
    """Shuffled minibatches, the noise drawn batch by batch from one generator (the library's Trainer does the same
    draws in the same order, so from the same seed both take the same steps). Returns each epoch's mean loss."""
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        order, total = rng.permutation(len(x)), 0.0
        for start in range(0, len(x), batch_size):
            xb = x[order[start:start + batch_size]]
            total += len(xb) * vae.step(xb, rng.standard_normal((len(xb), vae.latent_dim), dtype=xb.dtype))
        history.append(total / len(x))
    return history


if __name__ == "__main__":
    import argparse

    from minivae.datasets import load_mnist_test_10k  # the data only; the model above is all NumPy

    parser = argparse.ArgumentParser(prog="python -m minivae.start_here", description="the VAE in one file")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training digits (default: 3)")
    parser.add_argument("--examples", type=int, default=9000, help="training digits to use (default: all 9000)")
    args = parser.parse_args()
    x = load_mnist_test_10k().x_train[:args.examples]
    vae = PlainNumpyVAE(init_params(784, hidden=512, latent_dim=2, seed=0))
    for epoch, loss in enumerate(train(vae, x, epochs=args.epochs), start=1):
        print(f"epoch {epoch}: mean training loss (negative ELBO) {loss:.2f} nats per digit")
