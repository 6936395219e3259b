"""Optimizers: one interface, per-parameter state.

Usage, for every optimizer::

    opt = Adam(lr=1e-3)
    model.loss_and_gradients(x, rng)          # fills model.grads
    opt.step(model.params, model.grads)       # updates model.params in place

``params`` and ``grads`` are dictionaries with the same keys. The optimizer keeps its state (velocities, moment
estimates) in ``opt.state[key][slot]``, arrays shaped like the parameter, created at the first step, and a step
counter ``opt.t``. ``state_dict()`` / ``load_state_dict()`` turn all of it into flat arrays for a checkpoint.

In the formulas: p a parameter, g its gradient, lr the learning rate, t the step number (1, 2, ...).

The names and the meaning of every setting are PyTorch's (``torch.optim``): ``Adam(weight_decay=w)`` is L2 decay
added to the gradient, as in ``torch.optim.Adam``; ``AdamW`` is decoupled decay, as in ``torch.optim.AdamW``; ``SGD``'s
weight decay is L2. Two defaults differ from PyTorch's, on purpose, and each class says so:

    SGD      lr = 0.01   (PyTorch: 1e-3)    a step size that trains a VAE in a few epochs instead of a hundred
    RMSProp  lr = 1e-3   (PyTorch: 1e-2)    1e-2 diverges on the MNIST VAE; 1e-3 is also Keras' default

Every other default (Adam and AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, AdamW weight_decay 1e-2; Adagrad lr 1e-2,
eps 1e-10; RMSProp alpha 0.99, eps 1e-8) is PyTorch's. The tests compare each step with a hand computation, and with
PyTorch itself where it is installed.
"""
import numpy as np

from minivae.nn import kernels


class Optimizer:
    """Base class. Subclasses define ``slots`` (the names of their state arrays) and ``_update``."""

    slots = ()

    def __init__(self, lr):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.t = 0
        self.state = {}

    def step(self, params, grads):
        """One update of every parameter, in place. Everything is checked before anything changes, so a bad call
        leaves the parameters, the state and the step counter as they were."""
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same keys; only in one of them: "
                             f"{sorted(params.keys() ^ grads.keys())}")
        for key, p in params.items():
            g = grads[key]
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient of {key!r} has shape {g.shape} and dtype {g.dtype}, "
                                 f"but the parameter has {p.shape} and {p.dtype}")
            for slot, arr in self.state.get(key, {}).items():
                if arr.shape != p.shape:  # a state loaded from another model; the kernels would read out of bounds
                    raise ValueError(f"optimizer state {key}/{slot} has shape {arr.shape}, but the parameter has "
                                     f"{p.shape}; load a state saved for this model, or start a fresh optimizer")
        self.t += 1
        for key, p in params.items():
            if key not in self.state:
                self.state[key] = {slot: np.zeros_like(p) for slot in self.slots}
            self._update(p, grads[key], self.state[key])

    def _update(self, p, g, state):
        raise NotImplementedError

    def hyperparameters(self):
        """The settings that define this optimizer (stored in checkpoints)."""
        return {"lr": self.lr}

    def state_dict(self):
        """Flat dict of arrays: {"t": t, "<param>/<slot>": array, ...}."""
        out = {"t": np.array(self.t, dtype=np.int64)}
        for key, slots in self.state.items():
            for slot, arr in slots.items():
                out[f"{key}/{slot}"] = arr
        return out

    def load_state_dict(self, state):
        """Inverse of state_dict (arrays are copied)."""
        self.t = int(state["t"])
        self.state = {}
        for name, arr in state.items():
            if name == "t":
                continue
            key, slot = name.rsplit("/", 1)
            if slot not in self.slots:
                raise ValueError(f"optimizer state has slot {slot!r}, but {type(self).__name__} has {self.slots}")
            self.state.setdefault(key, {})[slot] = np.array(arr, copy=True)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum and L2 weight decay, as ``torch.optim.SGD``.

    Default lr = 0.01; PyTorch's is 1e-3 (see the module docstring).

        g <- g + weight_decay * p
        plain:     p <- p - lr * g
        momentum:  v <- mu * v + g;   p <- p - lr * v                 (PyTorch's form)
        Nesterov:  v <- mu * v + g;   p <- p - lr * (g + mu * v)      (look ahead along the velocity)
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = float(momentum), bool(nesterov), float(weight_decay)
        self.slots = ("velocity",) if momentum > 0 else ()

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum == 0:
            p -= self.lr * g
            return
        v = state["velocity"]
        v *= self.momentum
        v += g
        p -= self.lr * (g + self.momentum * v if self.nesterov else v)

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), the optimizer of Kingma & Welling's experiments.

        s <- s + g^2;   p <- p - lr * g / (sqrt(s) + eps)
    """

    slots = ("sum_sq",)

    def __init__(self, lr=0.01, eps=1e-10):
        super().__init__(lr)
        self.eps = float(eps)

    def _update(self, p, g, state):
        s = state["sum_sq"]
        s += g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)

    def hyperparameters(self):
        return {"lr": self.lr, "eps": self.eps}


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012), as ``torch.optim.RMSprop`` without momentum or centering.

    Default lr = 1e-3; PyTorch's is 1e-2 (see the module docstring).

        s <- alpha * s + (1 - alpha) * g^2;   p <- p - lr * g / (sqrt(s) + eps)
    """

    slots = ("mean_sq",)

    def __init__(self, lr=1e-3, alpha=0.99, eps=1e-8):
        super().__init__(lr)
        self.alpha, self.eps = float(alpha), float(eps)

    def _update(self, p, g, state):
        s = state["mean_sq"]
        s *= self.alpha
        s += (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)

    def hyperparameters(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015, Algorithm 1), as ``torch.optim.Adam``.

        g <- g + weight_decay * p                                 (L2 weight decay; off by default)
        m <- b1 m + (1 - b1) g;      v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t);      v_hat = v / (1 - b2^t)        (bias correction: m, v start at 0)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    ``weight_decay`` here is L2 regularisation: it goes through m and v, so Adam rescales it like any gradient. For
    decay that does not (Loshchilov & Hutter 2019), use ``AdamW``.

    The update of each array runs in one fused, vectorised Numba loop (``kernels.adam_update``), with
    ``kernels.adam_update_reference`` as its readable twin.
    """

    slots = ("m", "v")
    decoupled = False  # AdamW: the weight decay is applied to p directly, not added to g

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must not be negative, got {weight_decay}")
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, p, g, state):
        l2, decoupled = (0.0, self.weight_decay) if self.decoupled else (self.weight_decay, 0.0)
        kernels.adam_update(p.reshape(-1), g.reshape(-1), state["m"].reshape(-1), state["v"].reshape(-1),
                            self.lr, self.beta1, self.beta2, self.eps, self.t, l2, decoupled)

    def hyperparameters(self):
        return {"lr": self.lr, "betas": [self.beta1, self.beta2], "eps": self.eps, "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW`` (default decay 1e-2).

        p <- p - lr * weight_decay * p,   then the Adam step of ``Adam`` with no L2 term
    """

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW}


def make_optimizer(name, **hyperparameters):
    """An optimizer by name ("sgd", "adagrad", "rmsprop", "adam", "adamw") with the given settings."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**hyperparameters)


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so that their global L2 norm is at most max_norm; return the norm before.

        norm = sqrt(sum_k ||g_k||^2);   if norm > max_norm:  g_k <- g_k * max_norm / norm
    """
    if not max_norm > 0:  # a negative max_norm would flip every gradient: ascent instead of descent
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
