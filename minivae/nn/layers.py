"""Layers with a hand-written backward pass.

Every layer follows one interface:

* ``out = layer.forward(x)`` computes the output and keeps in the layer what the backward pass needs;
* ``dx = layer.backward(dout)`` takes the gradient of the loss with respect to ``out`` and returns the gradient with
  respect to ``x``; it also *overwrites* ``layer.grads[name]`` for every parameter (no accumulation, so there is no
  ``zero_grad`` to forget).

Parameters and their gradients are plain dictionaries of NumPy arrays, ``layer.params`` and ``layer.grads``, with the
same keys, so a reader can print them and an optimizer can update them in place.

Shapes: a batch is (N, D), N examples of D features. The elementwise work runs in the Numba kernels of
``minivae.nn.kernels``; the matrix products run in NumPy (BLAS).
"""
import numpy as np

from minivae.nn import kernels
from minivae.validation import check_dtype, check_positive_int


class Layer:
    """Base class: a layer without parameters. Subclasses override forward and backward."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def backward_params(self, dout):
        """Only the parameter gradients (``layer.grads``), for when dL/dx is not needed (the input is the data).

        This default runs the whole backward pass and drops dx; Linear overrides it to skip the product dout @ W^T.
        """
        self.backward(dout)

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """Affine layer ``out = x @ W + b``.

    Shapes: x (N, in_dim), W (in_dim, out_dim), b (out_dim,), out (N, out_dim).

    Backward, with upstream dout (N, out_dim):
        dW = x^T @ dout        (in_dim, out_dim)
        db = sum_n dout[n]     (out_dim,)
        dx = dout @ W^T        (N, in_dim)

    The layer keeps, by reference (no copy), the input of its last forward pass, ``self.x`` (N, in_dim), and the
    upstream gradient of its last backward pass, ``self.dout`` (N, out_dim). dW above is the sum over the rows of
    the outer products x[n]^T dout[n]; ``minivae.privacy.per_example`` reads the two to get each example's share.

    Initialisation (biases are zero):
        "he"      W ~ N(0, 2 / in_dim)                      for layers followed by ReLU (He et al. 2015)
        "glorot"  W ~ U(-a, a), a = sqrt(6 / (in + out))    for tanh/sigmoid/linear outputs (Glorot & Bengio 2010)

    Example
    -------
    >>> layer = Linear(3, 2, rng=np.random.default_rng(0))
    >>> layer.forward(np.ones((4, 3), dtype=np.float32)).shape
    (4, 2)
    """

    def __init__(self, in_dim, out_dim, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.out_dim = check_positive_int(out_dim, "out_dim")
        self.init = init
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(0) if rng is None else rng
        if init == "he":
            W = rng.normal(0.0, np.sqrt(2.0 / in_dim), size=(in_dim, out_dim))
        elif init == "glorot":
            a = np.sqrt(6.0 / (in_dim + out_dim))
            W = rng.uniform(-a, a, size=(in_dim, out_dim))
        else:
            raise ValueError(f"init must be 'he' or 'glorot', got {init!r}")
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(out_dim, dtype=self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x = None  # the input of the last forward pass (N, in_dim)
        self.dout = None  # the upstream gradient of the last backward pass (N, out_dim)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"Linear({self.in_dim}, {self.out_dim}) expects input of shape (N, {self.in_dim}), "
                             f"got {x.shape}")
        self.x = x
        out = x @ self.params["W"]  # (N, out_dim)
        out += self.params["b"]
        return out

    def backward(self, dout):
        self.backward_params(dout)
        return dout @ self.params["W"].T  # (N, in_dim)

    def backward_params(self, dout):
        self.dout = dout
        np.matmul(self.x.T, dout, out=self.grads["W"])  # (in_dim, out_dim)
        kernels.column_sum(dout, self.grads["b"])  # (out_dim,)

    def __repr__(self):
        return f"Linear({self.in_dim}, {self.out_dim}, init={self.init!r})"


def _memory_axes(a):
    """None for a C-contiguous array; otherwise a's axes from the largest stride to the smallest, so that
    a.transpose(axes) is C-contiguous when a is a transposed view of contiguous memory (the convolutions return
    (N, C, H, W) views of batch-last (C, H, W, N) memory)."""
    if a.flags.c_contiguous:
        return None
    return tuple(int(i) for i in np.argsort([-s for s in a.strides], kind="stable"))


class _Elementwise(Layer):
    """An activation applied entry by entry. Subclasses give the forward and backward kernels.

    The kernels work on flat arrays, in the order of the input's memory: reshape(-1) of a C-contiguous array is a
    view, so nothing is copied; an input stored in another axis order (a transposed view, as between two
    convolutions) is taken in that order, and the output and dx are given back in it, again without a copy.
    """

    def forward(self, x):
        self.axes = _memory_axes(x)
        x = np.ascontiguousarray(x if self.axes is None else x.transpose(self.axes))  # x's memory, as it lies
        out = np.empty_like(x)
        self._forward_kernel(x.reshape(-1), out.reshape(-1))
        self.x, self.out = x, out
        return self._as_input(out)

    def backward(self, dout):
        dout = np.ascontiguousarray(dout if self.axes is None else dout.transpose(self.axes))  # the order of x
        dx = np.empty_like(dout)
        self._backward_kernel(dout.reshape(-1), dx.reshape(-1))
        return self._as_input(dx)

    def _as_input(self, a):
        """a, stored in the forward input's memory order, as an array of that input's shape (a view)."""
        return a if self.axes is None else a.transpose(np.argsort(self.axes))


class ReLU(_Elementwise):
    """relu(x) = max(x, 0);  d/dx = 1 if x > 0 else 0."""

    def _forward_kernel(self, x, out):
        kernels.relu_forward(x, out)

    def _backward_kernel(self, dout, dx):
        kernels.relu_backward(self.x.reshape(-1), dout, dx)


class LeakyReLU(_Elementwise):
    """leaky_relu(x) = x if x > 0 else alpha * x;  d/dx = 1 if x > 0 else alpha."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = float(alpha)

    def _forward_kernel(self, x, out):
        kernels.leaky_relu_forward(x, x.dtype.type(self.alpha), out)

    def _backward_kernel(self, dout, dx):
        kernels.leaky_relu_backward(self.x.reshape(-1), dout, dout.dtype.type(self.alpha), dx)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Tanh(_Elementwise):
    """tanh(x);  d/dx = 1 - tanh(x)^2 (computed from the cached output).

    The forward pass is NumPy's np.tanh, vectorised, rather than a Numba loop (see minivae.nn.kernels).
    """

    def _forward_kernel(self, x, out):
        np.tanh(x, out=out)

    def _backward_kernel(self, dout, dx):
        kernels.tanh_backward(self.out.reshape(-1), dout, dx)


class Sigmoid(_Elementwise):
    """sigma(x) = 1 / (1 + exp(-x));  d/dx = sigma(x) (1 - sigma(x)) (computed from the cached output)."""

    def _forward_kernel(self, x, out):
        kernels.sigmoid_forward(x, out)

    def _backward_kernel(self, dout, dx):
        kernels.sigmoid_backward(self.out.reshape(-1), dout, dx)


class Softplus(_Elementwise):
    """softplus(x) = log(1 + exp(x));  d/dx = sigma(x)."""

    def _forward_kernel(self, x, out):
        kernels.softplus_forward(x, out)

    def _backward_kernel(self, dout, dx):
        kernels.softplus_backward(self.x.reshape(-1), dout, dx)


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid, "softplus": Softplus}


def make_activation(name):
    """The activation layer called ``name`` (one of ACTIVATIONS)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class Sequential(Layer):
    """Layers applied one after the other; backward runs them in reverse.

    ``params`` and ``grads`` gather the layers' arrays under the names "<index>.<name>" ("0.W", "0.b", "2.W", ...).
    They are the very arrays of the layers (not copies), so an optimizer that updates ``seq.params`` in place
    updates the layers.
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            for k in layer.params:
                self.params[f"{i}.{k}"] = layer.params[k]
                self.grads[f"{i}.{k}"] = layer.grads[k]

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, input_grad=True):
        """Backward through the layers in reverse order; returns dL/dx for the input x of ``forward``.

        input_grad=False when dL/dx is not needed (the input is the data): the layers before the first one with
        parameters are skipped, that one only fills its grads (``backward_params``), and None is returned. For an
        MLP encoder this saves dout @ W^T of the first layer, the largest product of the backward pass.
        """
        if input_grad:
            for layer in reversed(self.layers):
                dout = layer.backward(dout)
            return dout
        first = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        for layer in reversed(self.layers[first + 1:]):
            dout = layer.backward(dout)
        if first < len(self.layers):
            self.layers[first].backward_params(dout)
        return None

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def MLP(sizes, activation="relu", rng=None, dtype=np.float32):
    """A multilayer perceptron: Linear layers of the given sizes with an activation between them (none at the end).

    MLP([784, 400, 40]) is Linear(784, 400) -> ReLU -> Linear(400, 40). Layers followed by ReLU-like activations get
    He initialisation, the others Glorot.

    Example
    -------
    >>> net = MLP([4, 8, 2], rng=np.random.default_rng(0))
    >>> net.forward(np.zeros((3, 4), dtype=np.float32)).shape
    (3, 2)
    """
    sizes = [check_positive_int(s, "layer size") for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
    make_activation(activation)  # an unknown name fails here, even when there is no hidden layer to use it
    rng = np.random.default_rng(0) if rng is None else rng
    init = "he" if activation in ("relu", "leaky_relu") else "glorot"
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(Linear(d_in, d_out, init="glorot" if last else init, rng=rng, dtype=dtype))
        if not last:
            layers.append(make_activation(activation))
    return Sequential(*layers)
