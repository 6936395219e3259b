"""The plain-NumPy baseline: the VAE as a student would write it after the lessons, in one file.

float32 NumPy, no Numba, no buffers kept from one step to the next: every expression makes new arrays. (The arithmetic
follows the dtype of the parameters, so the test can run it in float64 too.)
The model and its arithmetic are minivae's (MLP encoder with one [mu | logvar] head, logvar clamped to [-30, 20],
Bernoulli likelihood from logits, negative ELBO averaged over the batch, Adam with bias correction), so from the same
parameters, data and noise it must compute what minivae computes, up to float32 rounding
(``tests/test_fast_path.py`` checks that). ``bench/throughput.py`` times it next to minivae and PyTorch.

Shapes: N examples of D pixels, H hidden units, L latent dimensions.

    enc   h1 = relu(x W1 + b1)          (N, H)       [mu | logvar] = h1 W2 + b2        (N, 2L)
    z     z = mu + exp(logvar / 2) eps  (N, L)
    dec   h2 = relu(z W3 + b3)          (N, H)       logits = h2 W4 + b4               (N, D)
    loss  mean_n [ sum_d (softplus(l) - x l) + 0.5 sum_j (mu^2 + exp(logvar) - 1 - logvar) ]
"""
import numpy as np

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def init_params(input_dim, hidden, latent_dim, rng):
    """He initialisation before a ReLU, Glorot for the two output layers; zero biases (as minivae.nn.layers.MLP)."""
    def he(n_in, n_out):
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out)).astype(np.float32)

    def glorot(n_in, n_out):
        a = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-a, a, size=(n_in, n_out)).astype(np.float32)

    zeros = lambda n: np.zeros(n, np.float32)  # noqa: E731
    return {"W1": he(input_dim, hidden), "b1": zeros(hidden),
            "W2": glorot(hidden, 2 * latent_dim), "b2": zeros(2 * latent_dim),
            "W3": he(latent_dim, hidden), "b3": zeros(hidden),
            "W4": glorot(hidden, input_dim), "b4": zeros(input_dim)}


class NumpyVAE:
    """One training step in four phases: forward, loss, backward, adam. ``step`` runs them in order."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = params
        self.latent_dim = params["W3"].shape[0]
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def forward(self, x, noise):
        p, L = self.params, self.latent_dim
        a1 = x @ p["W1"] + p["b1"]
        h1 = np.maximum(a1, 0)
        head = h1 @ p["W2"] + p["b2"]
        mu, raw = head[:, :L], head[:, L:]
        logvar = np.clip(raw, LOGVAR_MIN, LOGVAR_MAX)
        sigma = np.exp(0.5 * logvar)
        z = mu + sigma * noise
        a2 = z @ p["W3"] + p["b3"]
        h2 = np.maximum(a2, 0)
        logits = h2 @ p["W4"] + p["b4"]
        self.cache = dict(x=x, noise=noise, a1=a1, h1=h1, mu=mu, raw=raw, logvar=logvar, sigma=sigma, z=z, a2=a2,
                          h2=h2, logits=logits)
        return logits

    def loss(self, x):
        """Negative ELBO (batch mean) and its gradient with respect to the logits."""
        c, n = self.cache, len(x)
        logits, mu, logvar = c["logits"], c["mu"], c["logvar"]
        nll = (np.maximum(logits, 0) - x * logits + np.log1p(np.exp(-np.abs(logits)))).sum(axis=1)
        kl = 0.5 * (mu * mu + np.exp(logvar) - 1 - logvar).sum(axis=1)
        e = np.exp(-np.abs(logits))
        sigmoid = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
        dlogits = (sigmoid - x) / n
        return float(nll.mean() + kl.mean()), dlogits

    def backward(self, dlogits):
        c, p, n = self.cache, self.params, len(dlogits)
        g = {}
        g["W4"] = c["h2"].T @ dlogits
        g["b4"] = dlogits.sum(axis=0)
        dh2 = dlogits @ p["W4"].T
        da2 = dh2 * (c["a2"] > 0)
        g["W3"] = c["z"].T @ da2
        g["b3"] = da2.sum(axis=0)
        dz = da2 @ p["W3"].T
        dmu = dz + c["mu"] / n  # the KL term's gradient is added here: d mean(kl) / d mu = mu / N
        dlogvar = dz * c["noise"] * 0.5 * c["sigma"] + 0.5 * (np.exp(c["logvar"]) - 1) / n
        dlogvar = dlogvar * ((c["raw"] >= LOGVAR_MIN) & (c["raw"] <= LOGVAR_MAX))
        dhead = np.concatenate([dmu, dlogvar], axis=1)
        g["W2"] = c["h1"].T @ dhead
        g["b2"] = dhead.sum(axis=0)
        dh1 = dhead @ p["W2"].T
        da1 = dh1 * (c["a1"] > 0)
        g["W1"] = c["x"].T @ da1
        g["b1"] = da1.sum(axis=0)
        return g

    def adam(self, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for k, p in self.params.items():
            g = grads[k]
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.t)
            v_hat = self.v[k] / (1 - b2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def step(self, x, noise):
        """One training step on the batch x (N, D) with the noise (N, L); returns the loss before the update."""
        self.forward(x, noise)
        loss, dlogits = self.loss(x)
        self.adam(self.backward(dlogits))
        return loss
