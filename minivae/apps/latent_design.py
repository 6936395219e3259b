"""Designing by gradient ascent in latent space: fit a property predictor on codes z, then climb it.

The idea (Gomez-Bombarelli et al. 2018, "Automatic Chemical Design Using a Data-Driven Continuous Representation of
Molecules", ACS Central Science 4, 268-276): a VAE gives every example x a code z = mu(x). Fit a small regression
network f(z) ~ y to a property y of the examples (a drug-likeness score, logP, ...), then start from the code of a
known example and follow the gradient of f in z; decode the codes along the way and read what they are.

    predictor   f(z) = m + s * h(z),   h an MLP (N, L) -> (N,) trained on y~ = (y - m) / s, m and s the mean and
                standard deviation of the training y (standardized targets: the same learning rate for any units)
    objective   g(z) = sign * f(z) - w * ||z||^2 / 2          sign = +1 to raise the property, -1 to lower it
    ascent      z_{k+1} = z_k + eta * grad g(z_k),   grad g(z) = sign * df/dz - w * z

The term -w ||z||^2 / 2 is log N(z; 0, I) up to a constant, times w: it keeps z where the prior puts the codes the
decoder was trained on. Without it (w = 0) the ascent follows f wherever f keeps rising: a ReLU network grows
linearly without end along some directions, and a tanh network saturates, often at its largest far from the data.

What can go wrong, and is not a bug:

* The predictor is trusted off the data manifold, where it has never seen an example. Its gradient there says
  nothing about the property; only the prior term keeps the path near the codes it was fitted on. The objective
  g rises at every (small enough) step, and the predicted f with it unless the prior term is pulling the path back;
  whether the *actual* property of the decoded strings rises is the experiment.
* The prior term pulls towards z = 0, the mode of N(0, I); but in L dimensions the codes of real examples lie near
  a shell of radius about sqrt(L) (a little less for encoder means), not at its centre. A large w walks every path
  towards the decoding of z = 0.
* Decoding is many-to-one: many steps decode to the same string, so the decoded path moves in jumps, and the number
  of distinct strings along it (``design_table``'s summary) is often small.
* A string decoded from a code the decoder never saw may not be a valid molecule at all: the fraction valid along
  the path (``design_table``) falls as the path leaves the data.
* Gomez-Bombarelli et al. train the predictor jointly with the VAE, which shapes the latent space by the property;
  here it is fitted afterwards on the codes of a trained model, so the latent space is whatever the VAE learned.

Nothing here knows chemistry: the property is computed by the caller (``design_table``'s ``actual``), and the
strings come from the model's decoder and the caller's ``to_text``.

Example
-------
>>> predictor = PropertyPredictor(latent_dim=2, hidden=(16,))
>>> rng = np.random.default_rng(0)
>>> z = rng.standard_normal((200, 2))
>>> history = predictor.fit(z, z[:, 0] - z[:, 1], epochs=30)
>>> path = latent_ascent(predictor, np.zeros(2), steps=20, step_size=0.1)
>>> path.shape
(21, 2)
>>> bool(predictor.predict(path[-1:])[0] > predictor.predict(path[:1])[0])
True
"""
from dataclasses import dataclass, field

import numpy as np

from minivae.nn.layers import MLP
from minivae.nn.optim import Adam
from minivae.validation import as_float_array, check_dtype, check_finite, check_positive_int

MIN_ROWS = 10  # fewer codes than this cannot be split into a training and a validation part worth the name


@dataclass
class FitHistory:
    """What ``PropertyPredictor.fit`` returns.

    train_mse, validation_mse : the MSE in standardized units after each epoch, on the whole training part and on the
        validation part (empty without one); predicting the training mean everywhere scores 1.0 on the training part
    validation_r2 : R^2 = 1 - sum (f - y)^2 / sum (y - mean y)^2 on the validation part after the last epoch
        (nan without a validation part, or if its y is constant)
    """

    train_mse: list = field(default_factory=list)
    validation_mse: list = field(default_factory=list)
    validation_r2: float = float("nan")


class PropertyPredictor:
    """A regression network from codes to a property: z (N, L) -> f(z) (N,), in the units of the targets.

    f(z) = m + s * h(z), h = MLP([L, *hidden, 1]); m and s are the mean and standard deviation of the y it was fitted
    on (``fit`` sets them; before that m = 0, s = 1). ``params`` and ``grads`` are the network's dictionaries
    ("0.W", "0.b", ...), so any minivae optimizer can update them; ``config()`` and ``params`` are all that is
    needed to rebuild it (``from_config``).

    Parameters
    ----------
    latent_dim : L    hidden : the hidden sizes    activation : "tanh" (smooth: its gradient in z is continuous, which
    the ascent wants) or any of ``minivae.nn.layers.ACTIVATIONS``    seed : initialisation seed
    dtype : float64 by default: the network is small, and the ascent compares values of g between nearby steps

    Example
    -------
    >>> predictor = PropertyPredictor(latent_dim=3, hidden=(8, 8))
    >>> predictor.predict(np.zeros((5, 3))).shape, predictor.input_gradient(np.zeros((5, 3))).shape
    ((5,), (5, 3))
    """

    def __init__(self, latent_dim, hidden=(64, 64), activation="tanh", seed=0, dtype=np.float64):
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.hidden = tuple(check_positive_int(h, "hidden size") for h in hidden)
        self.activation, self.seed, self.dtype = activation, seed, check_dtype(dtype)
        self.net = MLP([self.latent_dim, *self.hidden, 1], activation, np.random.default_rng(seed), self.dtype)
        self.params, self.grads = self.net.params, self.net.grads
        self.y_mean, self.y_std = 0.0, 1.0

    def config(self):
        """The settings and the standardization, as plain Python values (with ``params``, all that defines it)."""
        return {"latent_dim": self.latent_dim, "hidden": list(self.hidden), "activation": self.activation,
                "seed": self.seed, "dtype": self.dtype.name, "y_mean": self.y_mean, "y_std": self.y_std}

    @classmethod
    def from_config(cls, config, params):
        """The predictor that ``config()`` and ``params`` describe (the arrays are copied)."""
        predictor = cls(config["latent_dim"], config["hidden"], config["activation"], config["seed"],
                        config["dtype"])
        if params.keys() != predictor.params.keys():
            raise ValueError(f"params have the keys {sorted(params)}, but this predictor has "
                             f"{sorted(predictor.params)}; pass the params saved with this config")
        for k, p in predictor.params.items():
            p[...] = params[k]
        predictor.y_mean, predictor.y_std = float(config["y_mean"]), float(config["y_std"])
        return predictor

    def __repr__(self):
        return (f"PropertyPredictor(latent_dim={self.latent_dim}, hidden={self.hidden}, "
                f"activation={self.activation!r}, y_mean={self.y_mean:.4g}, y_std={self.y_std:.4g})")

    # -- checks -----------------------------------------------------------------------------------------------------

    def _check_z(self, z):
        return as_float_array(z, "z", self.dtype, width=self.latent_dim)

    def _check_y(self, y, n):
        y = np.asarray(y)
        if y.dtype.kind not in "biuf" or y.ndim != 1:
            raise ValueError(f"y must be one real number per code, shape (N,), got {y.dtype} {y.shape}")
        if len(y) != n:
            raise ValueError(f"z has {n} rows but y has {len(y)} values; pass one property value per code")
        y = y.astype(self.dtype)
        check_finite(y, "y")
        return y

    # -- forward and backward ---------------------------------------------------------------------------------------

    def predict(self, z):
        """f(z) = m + s * h(z) for codes z (N, L): the predicted property (N,), in the units of the targets."""
        return self.y_mean + self.y_std * self.net.forward(self._check_z(z))[:, 0]

    def loss_and_gradients(self, z, y):
        """The mean squared error in standardized units, and its gradients (``self.grads``, overwritten).

            y~_n = (y_n - m) / s                      the targets standardized with the stored m and s
            MSE  = (1/N) sum_n (h(z_n) - y~_n)^2      h the network's output, (N,); mean over the batch
            dMSE/dh_n = (2/N) (h(z_n) - y~_n)         the upstream gradient of the network's backward pass

        z : (N, L) codes    y : (N,) property values in their own units. Returns (mse, grads).
        """
        z = self._check_z(z)
        y = self._check_y(y, len(z))
        residual = self.net.forward(z)[:, 0] - (y - self.y_mean) / self.y_std  # (N,)
        self.net.backward((2.0 / len(z)) * residual[:, None], input_grad=False)  # (N, 1) upstream
        return float(np.mean(residual**2)), self.grads

    def input_gradient(self, z):
        """df(z_n) / dz_n for each row, shape (N, L), in the units of the targets per unit of z.

        By the chain rule through the standardization, f = m + s * h, so df/dz = s * dh/dz; dh/dz is the network's
        backward pass with the upstream gradient dh = ones (N, 1). Ones are right here, where a gradient check would
        want a random upstream gradient: row n of the output depends on row n of the input only, so row n of
        ones^T J is exactly the gradient of h(z_n). (It overwrites ``grads``, as every backward pass does.)
        """
        z = self._check_z(z)
        self.net.forward(z)
        return self.y_std * self.net.backward(np.ones((len(z), 1), dtype=self.dtype))

    # -- training ---------------------------------------------------------------------------------------------------

    def fit(self, z, y, epochs=100, batch_size=64, lr=3e-3, seed=0, validation_fraction=0.1):
        """Fit f to (z, y) with Adam on minibatches; returns a ``FitHistory``.

        The rows are shuffled (``seed``), a ``validation_fraction`` of them (in [0, 0.5]) is held out, and m and s
        are set to the mean and standard deviation of the *training* y. Training continues from the current weights
        (a second call fine-tunes, with m and s of its own data).

        z : (N, L) codes, N >= 10 (the encoder means of the examples, say)    y : (N,) their property
        """
        z = self._check_z(z)
        y = self._check_y(y, len(z))
        if len(z) < MIN_ROWS:
            raise ValueError(f"fitting needs at least {MIN_ROWS} codes with their property, got {len(z)}")
        if not y.min() < y.max():
            raise ValueError(f"y is constant ({float(y[0]):g} in every row): there is nothing to predict")
        if not 0.0 <= validation_fraction <= 0.5:
            raise ValueError(f"validation_fraction must lie in [0, 0.5], got {validation_fraction!r}")
        epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(z))
        n_val = int(round(validation_fraction * len(z)))
        val, train = order[:n_val], order[n_val:]
        if not y[train].min() < y[train].max():
            raise ValueError("y is constant on the training part: there is nothing to predict; pass more varied y")
        self.y_mean, self.y_std = float(y[train].mean()), float(y[train].std())
        opt, history = Adam(lr=lr), FitHistory()
        for _ in range(epochs):
            shuffled = rng.permutation(train)
            for i in range(0, len(shuffled), batch_size):
                batch = shuffled[i:i + batch_size]
                self.loss_and_gradients(z[batch], y[batch])
                opt.step(self.params, self.grads)
            history.train_mse.append(self._mse(z[train], y[train]))
            if n_val:
                history.validation_mse.append(self._mse(z[val], y[val]))
        if n_val:
            history.validation_r2 = r_squared(self.predict(z[val]), y[val])
        return history

    def _mse(self, z, y):
        """The MSE in standardized units, without touching the gradients."""
        return float(np.mean(((self.predict(z) - y) / self.y_std) ** 2))


def r_squared(predicted, actual):
    """R^2 = 1 - sum (predicted - actual)^2 / sum (actual - mean actual)^2; nan if actual is constant.

    1 is a perfect fit, 0 no better than the mean, below 0 worse than it.

    >>> r_squared(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]))   # 1 - 1 / 2
    0.5
    """
    predicted, actual = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    total = float(np.sum((actual - actual.mean()) ** 2))
    return float("nan") if total == 0 else 1.0 - float(np.sum((predicted - actual) ** 2)) / total


# -- the ascent -------------------------------------------------------------------------------------------------------

def _check_predictor(predictor):
    for name in ("predict", "input_gradient"):
        if not callable(getattr(predictor, name, None)):
            raise TypeError(f"predictor must have predict(z) -> (N,) and input_gradient(z) -> (N, L) (a "
                            f"PropertyPredictor), got {type(predictor).__name__} without {name!r}")


def latent_objective(predictor, z, prior_weight=1.0, minimize=False):
    """g(z) = sign * f(z) - prior_weight * ||z||^2 / 2 for codes z (N, L): (N,), what ``latent_ascent`` raises."""
    _check_predictor(predictor)
    z = as_float_array(z, "z", np.float64)
    sign = -1.0 if minimize else 1.0
    return sign * np.asarray(predictor.predict(z), np.float64) - prior_weight * 0.5 * np.sum(z * z, axis=1)


def latent_ascent(predictor, z0, steps=50, step_size=0.1, prior_weight=1.0, minimize=False):
    """The path of gradient ascent on g(z) = sign * f(z) - w ||z||^2 / 2 from z0: shape (steps + 1, L), z0 first.

        z_{k+1} = z_k + eta * (sign * df/dz(z_k) - w * z_k)       sign = -1 with minimize=True, else +1

    The step is the plain gradient, not normalized, on purpose: the path stops where grad g = 0, at a maximum of g,
    and for eta below 2 / M (M the largest curvature of -g) every step raises g. A normalized step of fixed length
    eta never settles: it overshoots the maximum and oscillates about it, each step of length eta however close
    it is. The price: the step's length follows the gradient's, so a steep predictor makes long steps. The prior
    term alone has curvature w, and z_{k+1} = (1 - eta w) z_k when f is flat, so eta * w must stay below 1 (no
    oscillation) and must be below 2 (no divergence).

    Parameters
    ----------
    predictor : a PropertyPredictor, or any object with predict(z) -> (N,) and input_gradient(z) -> (N, L)
    z0 : the starting code (L,), e.g. the encoder mean of a known example
    steps : number of steps    step_size : eta > 0    prior_weight : w >= 0 (0: no prior term; see the module
    docstring for why that is risky)    minimize : lower the property instead of raising it
    """
    _check_predictor(predictor)
    z = np.asarray(z0)
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"z0 must be one code of shape (L,), got shape {np.shape(z0)}")
    z = as_float_array(z[None], "z0", np.float64)[0]
    width = getattr(predictor, "latent_dim", z.size)
    if z.size != width:
        raise ValueError(f"z0 has {z.size} dimension(s) but the predictor reads codes of {width}")
    steps = check_positive_int(steps, "steps")
    if not (np.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size must be a positive number, got {step_size!r}")
    if not (np.isfinite(prior_weight) and prior_weight >= 0):
        raise ValueError(f"prior_weight must be a number >= 0, got {prior_weight!r}")
    if step_size * prior_weight >= 1:
        raise ValueError(f"step_size x prior_weight is {step_size * prior_weight:g}: at 1 or more the prior term "
                         "alone throws z past 0 at every step (z <- (1 - eta w) z), so the path forgets its start "
                         "or diverges; make it smaller than 1")
    sign = -1.0 if minimize else 1.0
    path = np.empty((steps + 1, z.size))  # (steps + 1, L)
    path[0] = z
    for k in range(steps):
        grad = sign * np.asarray(predictor.input_gradient(z[None]), np.float64)[0] - prior_weight * z  # (L,)
        z = z + step_size * grad
        if not np.isfinite(z).all():
            raise ValueError(f"the ascent diverged at step {k + 1} (z is no longer finite); use a smaller step_size")
        path[k + 1] = z
    return path


# -- reading the path -------------------------------------------------------------------------------------------------

def decode_path(model, path, to_text, max_length=50):
    """The string of every code on the path: greedy decoding (``model.decode``, temperature 0), then ``to_text``.

    model : a sequence model with decode(z, max_length) -> ids (N, T), e.g. a SequenceVAE
    path : (S, L) codes, e.g. from ``latent_ascent``    to_text : ids (S, T) -> S strings, e.g. ``vocab.decode``
    Returns a list of S strings, one per step.
    """
    path = np.asarray(path)
    if path.ndim != 2 or len(path) == 0:
        raise ValueError(f"path must be codes of shape (S, L), one row per step, got shape {path.shape}")
    texts = list(to_text(model.decode(path, max_length)))
    if len(texts) != len(path) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"to_text must return one string per row of ids ({len(path)}), got {len(texts)} item(s)")
    return texts


def design_table(path_strings, predicted, actual, minimize=False):
    """The rows of a table of the path, and its summary; ``markdown_design_table`` writes them as markdown.

    path_strings : the S decoded strings    predicted : (S,) the predictor's values along the path
    actual : S property values computed by the caller from the strings, None where a string is not valid
    minimize : whether lower is better (for the best value)

    Returns (rows, summary): rows, one dict per step, {"step", "predicted", "actual", "valid", "string"}; summary
    {"steps", "start_predicted", "start_actual" (None if the start is invalid), "best_actual", "best_step" (the first
    step that reaches it; None if nothing is valid), "valid_fraction", "distinct_valid"}. Distinct counts strings:
    pass canonical strings if two spellings of one molecule should count once.
    """
    strings = list(path_strings)
    predicted = np.asarray(predicted, np.float64)
    actual = list(actual)
    if predicted.shape != (len(strings),) or len(actual) != len(strings):
        raise ValueError(f"path_strings, predicted and actual must have one entry per step; got {len(strings)}, "
                         f"{predicted.shape} and {len(actual)}")
    check_finite(predicted, "predicted")
    for k, a in enumerate(actual):
        if a is not None and not np.isfinite(a):
            raise ValueError(f"actual[{k}] is {a}; mark an invalid string with None, not with a non-finite number")
    rows = [{"step": k, "predicted": float(p), "actual": None if a is None else float(a), "valid": a is not None,
             "string": s} for k, (s, p, a) in enumerate(zip(strings, predicted, actual))]
    valid = [r for r in rows if r["valid"]]
    best = (min if minimize else max)(valid, key=lambda r: r["actual"], default=None)  # the first of equal values
    summary = {"steps": len(rows) - 1, "start_predicted": rows[0]["predicted"] if rows else None,
               "start_actual": rows[0]["actual"] if rows else None,
               "best_actual": None if best is None else best["actual"],
               "best_step": None if best is None else best["step"],
               "valid_fraction": len(valid) / len(rows) if rows else 0.0,
               "distinct_valid": len({r["string"] for r in valid})}
    return rows, summary


def markdown_design_table(rows, summary):
    """``design_table``'s rows and summary as markdown: a sentence of summary, then the table.

    The strings are set as code (SMILES hold characters that markdown reads, such as ``*``, ``_`` and ``#``); an
    empty string is shown as *(empty)*, so that a decoder that stops at once is seen to do so.
    """
    def number(v):
        return "-" if v is None else f"{v:.3f}"
    lines = [f"From {number(summary['start_actual'])} (predicted {number(summary['start_predicted'])}) to a best "
             f"of {number(summary['best_actual'])} at step {summary['best_step']}; "
             f"{summary['valid_fraction']:.0%} of the {len(rows)} codes decode to valid strings, "
             f"{summary['distinct_valid']} distinct.", "",
             "| step | predicted | actual | valid | string |", "|---:|---:|---:|:---:|:---|"]
    for r in rows:
        text = f"`{r['string']}`".replace("|", "\\|") if r["string"] else "*(empty)*"
        lines.append(f"| {r['step']} | {number(r['predicted'])} | {number(r['actual'])} | "
                     f"{'yes' if r['valid'] else 'no'} | {text} |")
    return "\n".join(lines) + "\n"
