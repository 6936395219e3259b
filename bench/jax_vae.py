"""The same VAE in JAX + optax, for ``bench/throughput.py``. Imported only when JAX and optax are installed.

The strongest framework peer on a CPU: the whole training step (forward, loss, gradients by jax.value_and_grad,
the Adam update) is one function compiled by XLA, which fuses the elementwise work between the matrix products as
minivae's Numba kernels do. The network is bench/torch_vae.py's "tuned" form: 784-400-20 (or any sizes), ReLU,
mu and logvar heads, Bernoulli log-likelihood from logits (the numerically stable form
max(l, 0) - l x + log(1 + exp(-|l|))), the closed-form KL, summed over the batch; Adam(1e-3). PyTorch's
nn.Linear initialisation (uniform in +-1/sqrt(fan_in)); the noise eps from a key split at every step.

Threads: XLA's CPU backend reads them once, from XLA_FLAGS, before jax loads; bench/runners.py sets it.
The phases of a step cannot be timed apart: the compiled step has none (the table shows its total as "backward").
"""
import jax
import jax.numpy as jnp
import optax


def init_params(key, input_dim, hidden, latent_dim):
    """fc1, fc21 (mu), fc22 (logvar), fc3, fc4 as in torch_vae.ExampleVAE: (W (in, out), b (out,)) each."""
    sizes = {"fc1": (input_dim, hidden), "fc21": (hidden, latent_dim), "fc22": (hidden, latent_dim),
             "fc3": (latent_dim, hidden), "fc4": (hidden, input_dim)}
    params = {}
    for name, (fan_in, fan_out) in sizes.items():
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / fan_in ** 0.5
        params[name] = (jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound),
                        jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound))
    return params


def loss_fn(params, x, eps):
    """Negative ELBO summed over the batch: Bernoulli NLL from logits + KL(N(mu, sigma^2) || N(0, I))."""
    def linear(name, a):
        w, b = params[name]
        return a @ w + b

    h1 = jax.nn.relu(linear("fc1", x))
    mu, logvar = linear("fc21", h1), linear("fc22", h1)
    z = mu + jnp.exp(0.5 * logvar) * eps
    logits = linear("fc4", jax.nn.relu(linear("fc3", z)))
    nll = jnp.sum(jnp.maximum(logits, 0) - logits * x + jnp.log1p(jnp.exp(-jnp.abs(logits))))
    kl = -0.5 * jnp.sum(1 + logvar - mu ** 2 - jnp.exp(logvar))
    return nll + kl


class JaxTrainer:
    """One jitted training step: step(x) -> loss; the parameters, optimizer state and key carried between steps."""

    def __init__(self, input_dim, hidden, latent_dim, seed=0):
        key = jax.random.PRNGKey(seed)
        key, init_key = jax.random.split(key)
        self.params = init_params(init_key, input_dim, hidden, latent_dim)
        self.opt = optax.adam(1e-3)
        self.state = self.opt.init(self.params)
        self.key = key
        self.latent_dim = latent_dim

        def step(params, state, key, x):
            key, noise_key = jax.random.split(key)
            eps = jax.random.normal(noise_key, (x.shape[0], latent_dim), jnp.float32)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, eps)
            updates, state = self.opt.update(grads, state, params)
            return optax.apply_updates(params, updates), state, key, loss

        self._step = jax.jit(step, donate_argnums=(0, 1))

    def step(self, x):
        self.params, self.state, self.key, loss = self._step(self.params, self.state, self.key, x)
        return loss
