"""Lesson 05 (backprop by hand): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/05_backprop_by_hand.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: a sigmoid layer whose forward caches its output s and whose backward returns dout * s * (1 - s)
class MySigmoid(Layer):
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))     # caching s = sigmoid(x) is enough: the derivative is s (1 - s)
        return self.out

    def backward(self, dout):
        s = self.out
        return dout * s * (1 - s)


# %% exercise 2: a ReLU whose backward reverses the columns of dout before the mask: invisible with dout = ones
class SwappedReLU(ReLU):
    def backward(self, dout):
        return super().backward(np.ascontiguousarray(dout[:, ::-1]))


# %% exercise 3: a one-sided finite-difference gradient, (f(x + h) - f(x)) / h, perturbing x in place
def one_sided_gradient(f, x, h):
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)   # views: perturbing flat perturbs x
    f_0 = f()
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old                               # restore exactly
        gflat[i] = (f_plus - f_0) / h
    return grad
